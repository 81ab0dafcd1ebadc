export {};
//# sourceMappingURL=refresh.test.d.ts.map