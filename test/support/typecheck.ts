// Type-checks a project the way its own `tsc -p` would (its tsconfig.json, its
// node_modules), in this process: diagnostics as "file:line: TSnnnn message".
import { relative } from "node:path";
import ts from "typescript";

export function typeCheckProject(dir: string): string[] {
  const configFile = ts.findConfigFile(dir, ts.sys.fileExists, "tsconfig.json");
  if (!configFile) throw new Error(`no tsconfig.json in ${dir}`);
  const problems: string[] = [];
  const parsed = ts.getParsedCommandLineOfConfigFile(configFile, {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => problems.push(ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")),
  });
  if (!parsed) return problems;
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options, projectReferences: parsed.projectReferences ?? [] });
  for (const diagnostic of [...parsed.errors, ...ts.getPreEmitDiagnostics(program)]) {
    const where = diagnostic.file && diagnostic.start !== undefined ? `${relative(dir, diagnostic.file.fileName)}:${diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line + 1}: ` : "";
    problems.push(`${where}TS${diagnostic.code} ${ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")}`);
  }
  return problems;
}
