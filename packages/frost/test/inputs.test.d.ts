export {};
//# sourceMappingURL=inputs.test.d.ts.map