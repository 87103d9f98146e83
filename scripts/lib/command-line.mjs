/**
 * The command line of a script a user runs: `--help` prints what it does and its options, and a bad
 * option or value ends it with one line on stderr and exit code 2, never a stack trace.
 */
import { existsSync, statSync } from "node:fs";
import { parseArgs } from "node:util";

/** The exit code of a refused command line (as for a shell builtin misused). */
const USAGE_EXIT_CODE = 2;

/** A value the command line cannot take; its message is the one line the user sees. */
export class UsageError extends Error {}

/**
 * @typedef {object} OptionSpec
 * @property {"string" | "boolean"} type
 * @property {string} description what it does, for --help
 * @property {string} [placeholder] the value's name in --help (`--ttl SECONDS`)
 * @property {unknown} [default] used when the option is absent
 * @property {(text: string, flag: string) => unknown} [parse] checks and converts a string value;
 *   throws UsageError when the value is bad
 */

/**
 * Parse `args` (default: the process's), or print the usage and exit 0 on `--help`/`-h`, or print one
 * line and exit 2 on anything it cannot take. Values are keyed by the option's name in camelCase.
 *
 * @param {{ name: string, invocation: string, summary: string, options: Record<string, OptionSpec>, args?: string[] }} spec
 *   `name` starts every refusal (`dev:token: …`); `invocation` is how a user runs it (`npm run dev:token --`)
 * @returns {Record<string, any>}
 */
export function parseCommandLine({ name, invocation, summary, options, args = process.argv.slice(2) }) {
  try {
    const { values } = parseArgs({
      args,
      strict: true,
      options: {
        ...Object.fromEntries(Object.entries(options).map(([option, { type }]) => [option, { type }])),
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      process.stdout.write(usage(invocation, summary, options));
      process.exit(0);
    }
    return Object.fromEntries(
      Object.entries(options).map(([flag, option]) => {
        const given = values[flag];
        const value =
          given === undefined ? option.default : option.parse ? option.parse(given, `--${flag}`) : given;
        return [flag.replace(/-(\w)/g, (_, letter) => letter.toUpperCase()), value];
      }),
    );
  } catch (error) {
    if (error instanceof UsageError || String(error?.code).startsWith("ERR_PARSE_ARGS_")) {
      refuseCommandLine(name, invocation, error.message);
    }
    throw error;
  }
}

/** One line on stderr, exit 2: for a value that only turns out bad after parsing. */
export function refuseCommandLine(name, invocation, message) {
  // One line, also when parseArgs explains itself over several.
  process.stderr.write(`${name}: ${message.replace(/\s*\n\s*/g, " ")} (see ${invocation} --help)\n`);
  process.exit(USAGE_EXIT_CODE);
}

/** A whole number from `min` to `max`, as `parse` of an option. */
export const wholeNumber = (min, max) => (text, flag) => {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new UsageError(`${flag} takes a whole number from ${min} to ${max}, not '${text}'`);
  }
  return value;
};

/** A TCP port, as `parse` of an option. */
export const port = wholeNumber(1, 65535);

/** The path of a file that exists, as `parse` of an option. */
export const existingFile = (text, flag) => {
  if (!existsSync(text) || !statSync(text).isFile()) throw new UsageError(`${flag}: no such file: ${text}`);
  return text;
};

/** Any text but the empty string, as `parse` of an option. */
export const nonEmpty = (text, flag) => {
  if (!text.trim()) throw new UsageError(`${flag} takes a non-empty value`);
  return text;
};

function usage(invocation, summary, options) {
  const rows = [
    ...Object.entries(options).map(([flag, option]) => [
      `--${flag}${option.placeholder ? ` ${option.placeholder}` : ""}`,
      option.default === undefined || option.default === false
        ? option.description
        : `${option.description} (default: ${option.default})`,
    ]),
    ["-h, --help", "show this help"],
  ];
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  return [
    `Usage: ${invocation} [options]`,
    "",
    summary,
    "",
    "Options:",
    ...rows.map(([flag, text]) => `  ${flag.padEnd(width)}${text}`),
    "",
  ].join("\n");
}
