/**
 * Bad input from a user's file: names the file, line, column and field, so
 * the CLI can print one clear line and exit 2 without a stack trace.
 */
export class InputError extends Error {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly field: string;
  readonly detail: string;
  constructor(file: string, line: number, col: number, field: string, detail: string) {
    super(`${line > 0 ? `${file}:${line}:${col}` : file}: ${field ? `${field}: ` : ''}${detail}`);
    this.name = 'InputError';
    this.file = file;
    this.line = line;
    this.col = col;
    this.field = field;
    this.detail = detail;
  }
}
