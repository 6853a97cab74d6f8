/**
 * Named members: the one place where `render_<name>`, `data_<name>`,
 * `macro_<name>` and `child_<name>` are looked up on a Fragment or Page
 * (Nevow's getattr(self, 'render_%s' % name)).
 */

// `prefix + name` made once per name: lookups happen once per rendered tag.
const memberNames = new Map<string, Map<string, string>>();
// The prefixes every render asks for, without a lookup of the prefix itself.
const renderNames = new Map<string, string>();
const dataNames = new Map<string, string>();
memberNames.set('render_', renderNames).set('data_', dataNames);

function memberName(prefix: string, name: string): string {
  let byName = prefix === 'render_' ? renderNames : prefix === 'data_' ? dataNames : memberNames.get(prefix);
  if (byName === undefined) memberNames.set(prefix, (byName = new Map()));
  let full = byName.get(name);
  if (full === undefined) {
    full = prefix + name;
    if (byName.size < 10_000) byName.set(name, full);
  }
  return full;
}

/** The member `<prefix><name>` of `obj`, whatever it is (undefined when absent). */
export function findMember(obj: object, prefix: string, name: string): unknown {
  return (obj as Record<string, unknown>)[memberName(prefix, name)];
}

/** The member `<prefix><name>` of `obj` when it is a function. */
export function findMethod(obj: object, prefix: string, name: string): Function | undefined {
  const m = findMember(obj, prefix, name);
  return typeof m === 'function' ? m : undefined;
}
