export {};
//# sourceMappingURL=sign.test.d.ts.map