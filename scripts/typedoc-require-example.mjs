// A TypeDoc plugin for `npm run docs:api:check`: every top-level export of a public module (class, interface,
// type alias, function, variable) must carry an `@example` in its doc comment (a function's may be on its first
// signature). Warnings fail the check under `treatWarningsAsErrors` (typedoc.json).
import { Application, ReflectionKind } from "typedoc";

const KINDS =
  ReflectionKind.Class |
  ReflectionKind.Interface |
  ReflectionKind.TypeAlias |
  ReflectionKind.Function |
  ReflectionKind.Variable |
  ReflectionKind.Enum;

const hasExample = (comment) => comment?.blockTags.some((tag) => tag.tag === "@example") ?? false;

/** @param {Application} app */
export function load(app) {
  app.on(Application.EVENT_VALIDATE_PROJECT, (project) => {
    for (const reflection of project.getReflectionsByKind(KINDS)) {
      if (!reflection.parent?.kindOf(ReflectionKind.Module | ReflectionKind.Project)) continue;
      const signatures = "signatures" in reflection ? (reflection.signatures ?? []) : [];
      if (hasExample(reflection.comment) || signatures.some((s) => hasExample(s.comment))) continue;
      app.logger.warn(`${reflection.getFriendlyFullName()} has no @example in its doc comment`);
    }
  });
}
