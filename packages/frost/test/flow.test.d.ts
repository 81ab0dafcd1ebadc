export {};
//# sourceMappingURL=flow.test.d.ts.map