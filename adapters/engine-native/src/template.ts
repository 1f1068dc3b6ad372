import { FlowRunError } from "@flowplane/core/replica";

/**
 * Python's `str.format` as Langflow's Prompt (via LangChain's f-string templates) and Parser
 * use it: `{name}` is replaced, `{{` and `}}` are literal braces, a lone `}` is an error, and
 * so is a name without a value. Attribute and index access (`{a.b}`, `{a[0]}`) are outside
 * what flows use; they are reported as missing names rather than guessed.
 */
export function formatFString(template: string, values: Record<string, string>, what: string, missing?: string): string {
  let out = "";
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    const next = template[i + 1];
    if (c === "{" && next === "{") {
      out += "{";
      i++;
    } else if (c === "}" && next === "}") {
      out += "}";
      i++;
    } else if (c === "{") {
      const end = template.indexOf("}", i + 1);
      if (end < 0) throw new FlowRunError(`${what}: single '{' encountered in the template`);
      // A format spec or conversion (`{x:>10}`, `{x!r}`) is dropped: flows use plain names.
      const name = template.slice(i + 1, end).split(/[:!]/)[0]?.trim() ?? "";
      if (!(name in values) && missing === undefined) throw new FlowRunError(`${what}: the template uses {${name}}, which has no value`);
      out += values[name] ?? missing;
      i = end;
    } else if (c === "}") {
      throw new FlowRunError(`${what}: single '}' encountered in the template`);
    } else {
      out += c;
    }
  }
  return out;
}

/** The variable names of an f-string template, in order of first use (escaped braces skipped). */
export function fStringVariables(template: string): string[] {
  const names: string[] = [];
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if ((c === "{" || c === "}") && template[i + 1] === c) {
      i++;
    } else if (c === "{") {
      const end = template.indexOf("}", i + 1);
      if (end < 0) break;
      const name = template.slice(i + 1, end).split(/[:!]/)[0]?.trim() ?? "";
      if (name && !names.includes(name)) names.push(name);
      i = end;
    }
  }
  return names;
}

/** Mustache variables (`{{name}}`), Langflow's "double brackets" prompt mode; no sections or partials. */
export function formatMustache(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}/g, (_m, name: string) => values[name] ?? "");
}

export function mustacheVariables(template: string): string[] {
  return [...new Set([...template.matchAll(/\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}/g)].map((m) => m[1] ?? ""))];
}
