// The SDK's typings as a user's compiler sees them, with the fixtures'
// tsconfig (no default lib, atoll/sdk/globals): correct code compiles, and
// each deliberate misuse in fixtures/type-tests/misuse.ts fails with the
// error code written next to it.
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import ts from "typescript";
import { repoRoot } from "./support/cli.js";

const fixturesConfig = join(repoRoot, "fixtures", "tsconfig.json");
const misuseFile = join(repoRoot, "fixtures", "type-tests", "misuse.ts");
const usageFile = join(repoRoot, "fixtures", "type-tests", "usage.ts");
const DIRECTIVE = /^\s*\/\/ @ts-expect-error (TS\d+) (.*)$/;

interface Problem {
  line: number;
  code: string;
  message: string;
}

/** Type-checks `file` (with `text` in place of its contents, when given) under fixtures/tsconfig.json. */
function typeCheck(file: string, text?: string): Problem[] {
  const parsed = ts.getParsedCommandLineOfConfigFile(fixturesConfig, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  assert.ok(parsed, "fixtures/tsconfig.json parses");
  const host = ts.createCompilerHost(parsed.options);
  if (text !== undefined) {
    const readFile = host.readFile.bind(host);
    host.readFile = (name) => (name === file ? text : readFile(name));
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (name, language, onError) => (name === file ? ts.createSourceFile(name, text, language) : getSourceFile(name, language, onError));
  }
  const globals = parsed.fileNames.filter((name) => name.endsWith("sdk/globals.d.ts"));
  assert.equal(globals.length, 1, "the fixtures' tsconfig includes sdk/globals.d.ts");
  const program = ts.createProgram({ rootNames: [...globals, file], options: parsed.options, host });
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => ({
    line: diagnostic.file && diagnostic.start !== undefined ? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line + 1 : 0,
    code: `TS${diagnostic.code}`,
    message: `${diagnostic.file?.fileName ?? ""}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")}`,
  }));
}

describe("the SDK's typings", () => {
  it("accept correct code, with the types usage.ts pins down", () => {
    assert.deepEqual(typeCheck(usageFile), []);
  });

  it("refuse every misuse in misuse.ts, each with the expected error", () => {
    const lines = readFileSync(misuseFile, "utf8").split("\n");
    const expected: { line: number; code: string; why: string }[] = [];
    const stripped = lines.map((line, index) => {
      const directive = DIRECTIVE.exec(line);
      if (!directive) return line;
      // The directive applies to the next line (1-based: index + 2).
      expected.push({ line: index + 2, code: directive[1]!, why: directive[2]! });
      return line.replace("@ts-expect-error", "expect");
    });
    assert.ok(expected.length >= 20, `misuse.ts has ${expected.length} misuses`);

    const problems = typeCheck(misuseFile, stripped.join("\n"));
    for (const misuse of expected) {
      const found = problems.filter((problem) => problem.line === misuse.line);
      assert.ok(
        found.some((problem) => problem.code === misuse.code),
        `misuse.ts:${misuse.line} (${misuse.why}) should fail with ${misuse.code}; got ${found.map((p) => `${p.code} ${p.message}`).join("; ") || "no error"}`,
      );
    }
    const unexpected = problems.filter((problem) => !expected.some((misuse) => misuse.line === problem.line));
    assert.deepEqual(unexpected, [], "no errors besides the deliberate ones");
  });

  it("compile misuse.ts as written: every @ts-expect-error is used", () => {
    assert.deepEqual(typeCheck(misuseFile), []);
  });
});
