export {};
//# sourceMappingURL=derive.test.d.ts.map