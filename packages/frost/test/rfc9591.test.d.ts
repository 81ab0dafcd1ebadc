export {};
//# sourceMappingURL=rfc9591.test.d.ts.map