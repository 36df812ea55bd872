/**
 * Just enough of POSIX sh to run the commands of a Markdown walk-through faithfully: commands split
 * at unquoted newlines (a trailing backslash continues a line), single and double quotes, `$VAR`
 * and `${VAR}` expansion (not inside single quotes), `VAR=$(pipeline)` assignments and `|` pipes.
 * Comment lines following a command are kept with it (the walk-through writes expected errors there).
 */

/** One command of a code block, with the comment lines that follow it. */
export interface ShellCommand {
  readonly text: string;
  readonly comments: readonly string[];
}

/** Marks a pipe between two commands in a token list. */
export const PIPE = Symbol("pipe");

/** Splits a code block into commands. */
export function splitCommands(block: string): ShellCommand[] {
  const commands: Array<{ text: string; comments: string[] }> = [];
  let current = "";
  let quote: "'" | '"' | undefined;
  let depth = 0;
  const finish = () => {
    const text = current.trim();
    current = "";
    if (text === "") return;
    if (text.startsWith("#")) {
      commands.at(-1)?.comments.push(text.replace(/^#\s*/, ""));
      return;
    }
    commands.push({ text, comments: [] });
  };
  for (let index = 0; index < block.length; index++) {
    const char = block[index] as string;
    if (quote) {
      if (char === "\\" && quote === '"') {
        current += char + (block[++index] ?? "");
        continue;
      }
      if (char === quote) quote = undefined;
      current += char;
      continue;
    }
    if (char === "'" || char === '"') quote = char;
    else if (char === "\\" && block[index + 1] === "\n") {
      current += " ";
      index++;
      continue;
    } else if (char === "(" && block[index - 1] === "$") depth++;
    else if (char === ")" && depth > 0) depth--;
    else if (char === "\n" && depth === 0) {
      finish();
      continue;
    }
    current += char;
  }
  if (quote) throw new Error(`unterminated ${quote} in: ${current.slice(0, 80)}`);
  finish();
  return commands;
}

function expand(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, braced, plain) => {
    const name = (braced ?? plain) as string;
    const value = vars[name];
    if (value === undefined) throw new Error(`$${name} is not set`);
    return value;
  });
}

/** Splits a command into words (quotes removed, variables expanded) and {@link PIPE}s. */
export function tokenize(text: string, vars: Readonly<Record<string, string>>): Array<string | typeof PIPE> {
  const tokens: Array<string | typeof PIPE> = [];
  let word: string | undefined;
  const push = () => {
    if (word !== undefined) tokens.push(word);
    word = undefined;
  };
  for (let index = 0; index < text.length; index++) {
    const char = text[index] as string;
    if (char === "'") {
      const end = text.indexOf("'", index + 1);
      if (end < 0) throw new Error("unterminated '");
      word = (word ?? "") + text.slice(index + 1, end);
      index = end;
    } else if (char === '"') {
      let value = "";
      index++;
      for (; index < text.length && text[index] !== '"'; index++) {
        if (text[index] === "\\" && ['"', "\\", "$", "`"].includes(text[index + 1] as string)) {
          value += text[++index];
        } else if (text[index] === "$") {
          const match = /^\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)/.exec(text.slice(index));
          if (!match) {
            value += "$";
            continue;
          }
          value += expand(match[0], vars);
          index += match[0].length - 1;
        } else value += text[index];
      }
      if (index >= text.length) throw new Error('unterminated "');
      word = (word ?? "") + value;
    } else if (char === "|") {
      push();
      tokens.push(PIPE);
    } else if (/\s/.test(char)) {
      push();
    } else if (char === "$") {
      const match = /^\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)/.exec(text.slice(index));
      if (!match) throw new Error(`unsupported $ at ${text.slice(index, index + 10)}`);
      word = (word ?? "") + expand(match[0], vars);
      index += match[0].length - 1;
    } else {
      word = (word ?? "") + char;
    }
  }
  push();
  return tokens;
}

/** `NAME=$(…)`: the variable and the pipeline whose output it takes; undefined for other commands. */
export function commandSubstitution(text: string): { name: string; pipeline: string } | undefined {
  const match = /^([A-Za-z_][A-Za-z0-9_]*)=\$\(([\s\S]*)\)$/.exec(text);
  return match ? { name: match[1] as string, pipeline: match[2] as string } : undefined;
}

/** Splits tokens at pipes into argument vectors. */
export function pipelineOf(tokens: ReadonlyArray<string | typeof PIPE>): string[][] {
  const commands: string[][] = [[]];
  for (const token of tokens) {
    if (token === PIPE) commands.push([]);
    else commands.at(-1)?.push(token);
  }
  if (commands.some((command) => command.length === 0)) throw new Error("empty command in a pipeline");
  return commands;
}

/** What `jq [-r] .a.b[0].c` prints for a JSON document. */
export function jq(args: readonly string[], input: string): string {
  const raw = args.includes("-r");
  const filter = args.find((arg) => arg.startsWith("."));
  if (!filter) throw new Error(`jq: unsupported arguments ${args.join(" ")}`);
  let value: unknown = JSON.parse(input);
  for (const part of filter.match(/\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\]/g) ?? []) {
    if (value === null || value === undefined) break;
    value = part.startsWith("[")
      ? (value as unknown[])[Number(part.slice(1, -1))]
      : (value as Record<string, unknown>)[part.slice(1)];
  }
  if (value === undefined) value = null;
  return `${raw && typeof value === "string" ? value : JSON.stringify(value)}\n`;
}
