/**
 * Error classes shared by the flattener, the fragments and the loaders.
 * Each failure has its own class so applications can tell them apart.
 */
import { describeTag, type Tag } from './stan.js';
import { didYouMean } from './suggest.js';

/** A `render` directive names no `render_<name>` on the fragment. */
export class MissingRenderMethod extends Error {
  override name = 'MissingRenderMethod';
  /**
   * `suggestions` are near names that do exist ("did you mean"); `element`,
   * when given, is the object that has no such renderer (an `Element`, whose
   * renderers are its registered methods, not `render_*`).
   */
  constructor(readonly renderName: string, readonly className: string, readonly suggestions: readonly string[] = [], readonly element?: object) {
    super((element === undefined
      ? `no renderer '${renderName}' (render_${renderName.split(' ')[0]}) on ${className}`
      : `no renderer '${renderName}' on ${className} (a method registered with @renderer)`) + didYouMean(suggestions));
  }
}

/** A Fragment, Page or Element was rendered without a `docFactory`. */
export class MissingDocumentFactory extends Error {
  override name = 'MissingDocumentFactory';
  constructor(readonly element: object) {
    super(`${element.constructor?.name ?? 'object'} has no docFactory`);
  }
}

/** A `data` directive names no `data_<name>` and no key of the data in scope. */
export class DataNotFound extends Error {
  override name = 'DataNotFound';
  constructor(readonly dataName: string, readonly className: string) {
    super(`no data '${dataName}' (data_${dataName.split(' ')[0]}) on ${className}, nor a key '${dataName}' in the data in scope`);
  }
}

/** A `macro` names no `macro_<name>` on the fragment. */
export class MissingMacroMethod extends Error {
  override name = 'MissingMacroMethod';
  constructor(readonly macroName: string, readonly className: string) {
    super(`no macro '${macroName}' (macro_${macroName}) on ${className}`);
  }
}

/** A slot was rendered with no filling and no default. */
export class UnfilledSlot extends Error {
  override name = 'UnfilledSlot';
  constructor(readonly slotName: string, readonly where?: string) {
    super(`slot '${slotName}'${where === undefined ? '' : ` (${where})`} was never filled and has no default`);
  }
}

/**
 * An error raised while flattening. `cause` is the original error, `roots`
 * the tags being rendered when it happened, outermost first.
 */
export class FlattenerError extends Error {
  override name = 'FlattenerError';
  constructor(
    override readonly cause: unknown,
    readonly roots: readonly Tag[],
  ) {
    const what = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    const path = roots.length > 0 ? `\n  while rendering ${roots.map(describeTag).join(' → ')}` : '';
    super(what + path, { cause });
  }
}

/** A page did not finish rendering within its `renderTimeout` (lib/rend.ts). */
export class RenderTimeout extends Error {
  override name = 'RenderTimeout';
  constructor(readonly className: string, readonly seconds: number) {
    super(`${className} did not finish rendering within its renderTimeout of ${seconds} s`);
  }
}

/**
 * A template that cannot be used: malformed markup, an unknown directive, a
 * missing file. The message starts with `file:line:column: ` when the
 * position is known.
 */
export class TemplateError extends Error {
  override name = 'TemplateError';
  constructor(
    what: string,
    readonly filename: string,
    readonly lineNumber?: number,
    readonly columnNumber?: number,
    options?: ErrorOptions,
  ) {
    super(lineNumber === undefined ? `${filename}: ${what}` : `${filename}:${lineNumber}:${columnNumber}: ${what}`, options);
  }
}

/** The template file does not exist (or cannot be read); `filename` is the path looked at. */
export class TemplateNotFound extends TemplateError {
  override name = 'TemplateNotFound';
}
