export {};
//# sourceMappingURL=noble.test.d.ts.map