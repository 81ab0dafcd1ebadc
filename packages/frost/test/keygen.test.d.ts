export {};
//# sourceMappingURL=keygen.test.d.ts.map