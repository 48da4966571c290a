import { describe, expect, it } from "vitest";
import { BoardParamsSchema, ContactFieldsSchema, EchoInputSchema, ItemInSchema, NodeSchema } from "../gen/kitchen/index";

describe("Zod schemas are never stricter than the server", () => {
  it("count code points as Python's len() does", () => {
    expect(EchoInputSchema.safeParse({ text: "😀".repeat(10) }).success).toBe(true);
    expect(EchoInputSchema.safeParse({ text: "x".repeat(11) }).success).toBe(false);
  });

  it("translate \\w to Unicode, as the server's regex reads it", () => {
    expect(BoardParamsSchema.safeParse({ board: "café-1" }).success).toBe(true);
    expect(BoardParamsSchema.safeParse({ board: "a b" }).success).toBe(false);
  });

  it("leave defaulted fields out, and check bounds and multiples of integers", () => {
    expect(EchoInputSchema.safeParse({ text: "a" }).success).toBe(true);
    expect(EchoInputSchema.safeParse({ text: "a", times: 0 }).success).toBe(false);
    expect(EchoInputSchema.safeParse({ text: "a", times: 1.5 }).success).toBe(false);
  });

  it("follow recursive types", () => {
    const tree = { kind: "branch", children: [{ kind: "leaf", value: 1 }, { kind: "branch", children: [] }] };
    expect(NodeSchema.safeParse(tree).success).toBe(true);
    expect(NodeSchema.safeParse({ kind: "branch", children: [{ kind: "leaf" }] }).success).toBe(false);
  });

  it("apply Django's rules to forms: empty optional fields, numbers from strings, stripped max_length", () => {
    const ok = { name: "Ada", email: "ada@example.com", topic: "help", count: "", tags: [] };
    expect(ContactFieldsSchema.safeParse(ok).success).toBe(true);
    expect(ContactFieldsSchema.safeParse({ ...ok, count: "3" }).success).toBe(true);
    const over = ContactFieldsSchema.safeParse({ ...ok, count: "12" });
    // Django's own wording, as the server's form answers after a submit.
    expect(over.success ? [] : over.error.issues.map((i) => [i.path.join("."), i.message])).toEqual([
      ["count", "Ensure this value is less than or equal to 9."],
    ]);
    expect(ContactFieldsSchema.safeParse({ ...ok, name: "  " + "x".repeat(50) + "  " }).success).toBe(true);
    expect(ContactFieldsSchema.safeParse({ ...ok, topic: "other" }).success).toBe(false);
    expect(ContactFieldsSchema.safeParse({ ...ok, email: "nope" }).success).toBe(false);
  });

  it("accept what the input view allows", () => {
    const r = ItemInSchema.safeParse({
      id: "x", title: "t", price: "1", when: "d", at: "t", blob: "", level: 2, pair: [1, "a"],
      flag: true, score: false, weight: 0, "first-name": "Ada", tags: ["a"], meta: {},
    });
    expect(r.success).toBe(true);
  });
});
