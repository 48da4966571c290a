import * as React from "react";
import type * as z from "zod/mini";
import { MizanError, type FieldErrorDetail, type Mizan } from "./mizan.js";
import { useMizanHub } from "./react";

/** What a form renderer needs about one field (from the Django form, via the IR). */
export interface FormFieldInfo {
  name: string;
  label: string | null;
  help: string | null;
  widget: string | null;
  required: boolean;
  disabled: boolean;
  /** Static choices as [value, label]; empty when there are none or they load at run time. */
  choices: readonly (readonly [string | number | boolean | null, string])[];
  /** Choices come from a queryset at run time: fetch `<form>.schema` for them. */
  dynamicChoices: boolean;
}

export interface FormInfo {
  name: string;
  title: string | null;
  submitLabel: string | null;
  fields: readonly FormFieldInfo[];
}

/** Errors by field name; `__all__` holds the form's own (`clean()`) errors. */
export type FormErrors = Partial<Record<string, string[]>>;

export interface FormResult<V extends object, O> {
  info: FormInfo;
  values: Partial<V>;
  /** Set one field; clears that field's errors. */
  set: <K extends keyof V>(name: K, value: V[K] | null | undefined) => void;
  setValues: (values: Partial<V>) => void;
  errors: FormErrors;
  /** The form's own errors (Django's non-field errors). */
  formErrors: string[];
  /** Check in the browser with the form's Zod schema; fills `errors`. */
  check: () => boolean;
  /** Ask the server (`<form>.validate`): Django's own verdict, with its messages. */
  validate: () => Promise<boolean>;
  /** Check, then submit; resolves with the result, or undefined when the form has errors. */
  submit: () => Promise<O | undefined>;
  submitting: boolean;
  result: O | undefined;
  /** A failure that is not about the fields (forbidden, network ...). */
  error: MizanError | null;
  reset: () => void;
}

/** Field errors from an `invalid_params` error's details ([{loc, msg, type}]). */
export function errorsFromDetails(details: unknown): FormErrors {
  const out: FormErrors = {};
  if (!Array.isArray(details)) return out;
  for (const d of details as FieldErrorDetail[]) {
    const head = Array.isArray(d?.loc) && d.loc.length > 0 ? d.loc[0] : "__all__";
    const field = typeof head === "string" ? head : "__all__";
    (out[field] ??= []).push(typeof d?.msg === "string" ? d.msg : "Invalid value.");
  }
  return out;
}

function errorsFromZod(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }): FormErrors {
  const out: FormErrors = {};
  for (const issue of error.issues) {
    const head = issue.path[0];
    const field = typeof head === "string" ? head : "__all__";
    (out[field] ??= []).push(issue.message);
  }
  return out;
}

export interface FormSpec<V extends object, O> {
  info: FormInfo;
  schema: z.ZodMiniType;
  initial: Partial<V>;
  submit: (m: Mizan, values: V) => Promise<O>;
  validate: (m: Mizan, values: V) => Promise<{ valid: boolean; errors: FieldErrorDetail[] }>;
}

/** State and actions of one form; the generated `use<Name>Form()` hooks call this. */
export function useFormState<V extends object, O>(hook: string, spec: FormSpec<V, O>): FormResult<V, O> {
  const hub = useMizanHub(hook);
  const [values, setAll] = React.useState<Partial<V>>(spec.initial);
  const [errors, setErrors] = React.useState<FormErrors>({});
  const [submitting, setSubmitting] = React.useState(false);
  const [result, setResult] = React.useState<O | undefined>(undefined);
  const [error, setError] = React.useState<MizanError | null>(null);
  const current = React.useRef(values);
  current.current = values;

  const set = React.useCallback(<K extends keyof V>(name: K, value: V[K] | null | undefined) => {
    setAll((v) => ({ ...v, [name]: value }));
    setErrors((e) => {
      if (!(name in e)) return e;
      const next = { ...e };
      delete next[name as string];
      return next;
    });
  }, []);
  const check = React.useCallback((): boolean => {
    const parsed = spec.schema.safeParse(current.current);
    setErrors(parsed.success ? {} : errorsFromZod(parsed.error));
    return parsed.success;
  }, [spec]);
  const validate = React.useCallback(async (): Promise<boolean> => {
    const verdict = await spec.validate(hub.client, current.current as V);
    setErrors(errorsFromDetails(verdict.errors));
    return verdict.valid;
  }, [hub, spec]);
  const submit = React.useCallback(async (): Promise<O | undefined> => {
    if (!check()) return undefined;
    setSubmitting(true);
    setError(null);
    try {
      const out = await spec.submit(hub.client, current.current as V);
      setResult(out);
      return out;
    } catch (err) {
      if (err instanceof MizanError && err.code === "invalid_params") {
        setErrors(errorsFromDetails(err.details));
        return undefined;
      }
      const failure = err instanceof MizanError ? err : new MizanError("network", String(err));
      setError(failure);
      throw failure;
    } finally {
      setSubmitting(false);
    }
  }, [hub, spec, check]);
  const reset = React.useCallback(() => {
    setAll(spec.initial);
    setErrors({});
    setResult(undefined);
    setError(null);
  }, [spec]);
  return {
    info: spec.info,
    values,
    set,
    setValues: setAll,
    errors,
    formErrors: errors.__all__ ?? [],
    check,
    validate,
    submit,
    submitting,
    result,
    error,
    reset,
  };
}
