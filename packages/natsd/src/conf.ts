/**
 * Renders a JavaScript object as nats-server configuration text (the HOCON-like format).
 * Strings are always quoted (durations such as "2s" and subjects such as "$JS.API.>" parse as
 * strings); give sizes as numbers of bytes, since a quoted "2MB" is not a size.
 * @module
 */

/** A configuration value: scalars, lists and nested blocks. */
export type ConfValue = string | number | boolean | ConfValue[] | { [key: string]: ConfValue | undefined };

const quote = (s: string) => JSON.stringify(s);

function render(value: ConfValue, indent: string): string {
  if (typeof value === "string") return quote(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[\n${value.map((v) => `${inner}${render(v, inner)}`).join(",\n")}\n${indent}]`;
  }
  const lines = Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${inner}${renderKey(k)}: ${render(v as ConfValue, inner)}`);
  return `{\n${lines.join("\n")}\n${indent}}`;
}

function renderKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : quote(key);
}

/** Renders a top-level configuration object (no surrounding braces). */
export function toConf(conf: Record<string, ConfValue | undefined>): string {
  return Object.entries(conf)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${renderKey(k)}: ${render(v as ConfValue, "")}`)
    .join("\n")
    .concat("\n");
}
