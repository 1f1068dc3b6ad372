import type { ComponentDef } from "../component.js";
import { Data } from "../values.js";

/**
 * Langflow's Calculator: arithmetic only (+ - * / % ** and parentheses), parsed here by a small
 * recursive-descent parser; nothing is ever evaluated as code.
 */
export function evaluateArithmetic(expression: string): number {
  const tokens = expression.match(/\d+\.?\d*(?:e[+-]?\d+)?|\.\d+|\*\*|[-+*/%()]|\S/gi) ?? [];
  let pos = 0;
  const peek = () => tokens[pos];
  const take = () => tokens[pos++];
  const fail = (why: string): never => {
    throw new Error(why);
  };
  // expr := term (('+'|'-') term)* ; term := unary (('*'|'/'|'%') unary)* ; unary := ('-'|'+') unary | power ; power := atom ('**' unary)?
  const atom = (): number => {
    const t = take();
    if (t === undefined) return fail("unexpected end of expression");
    if (t === "(") {
      const v = expr();
      if (take() !== ")") fail("missing ')'");
      return v;
    }
    const n = Number(t);
    return Number.isFinite(n) ? n : fail(`unsupported token "${t}"`);
  };
  const power = (): number => {
    const base = atom();
    if (peek() === "**") {
      take();
      return base ** unary();
    }
    return base;
  };
  const unary = (): number => {
    if (peek() === "-") {
      take();
      return -unary();
    }
    if (peek() === "+") {
      take();
      return unary();
    }
    return power();
  };
  const term = (): number => {
    let v = unary();
    while (peek() === "*" || peek() === "/" || peek() === "%") {
      const op = take();
      const r = unary();
      if ((op === "/" || op === "%") && r === 0) fail("division by zero");
      v = op === "*" ? v * r : op === "/" ? v / r : v - Math.floor(v / r) * r;
    }
    return v;
  };
  function expr(): number {
    let v = term();
    while (peek() === "+" || peek() === "-") v = take() === "+" ? v + term() : v - term();
    return v;
  }
  if (tokens.length === 0) fail("empty expression");
  const value = expr();
  if (pos < tokens.length) fail(`unexpected "${tokens[pos]}"`);
  return value;
}

/** Langflow prints results with 6 decimals, trailing zeros dropped. */
export const formatResult = (n: number): string => n.toFixed(6).replace(/0+$/, "").replace(/\.$/, "");

const calculator: ComponentDef = {
  methods: {
    evaluate_expression(ctx) {
      const expression = ctx.text("expression");
      try {
        return new Data({ result: formatResult(evaluateArithmetic(expression)) });
      } catch (err) {
        return new Data({ error: `Error evaluating expression: ${(err as Error).message}`, input: expression });
      }
    },
  },
};

export const calculatorComponents: Record<string, ComponentDef> = { CalculatorComponent: calculator };
