export {};
//# sourceMappingURL=share.test.d.ts.map