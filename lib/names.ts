/**
 * Named members: the one place where `render_<name>`, `data_<name>`,
 * `macro_<name>` and `child_<name>` are looked up on a Fragment or Page
 * (Nevow's getattr(self, 'render_%s' % name)).
 */

// `prefix + name` made once per name: lookups happen once per rendered tag.
const memberNames = new Map<string, Map<string, string>>();

function memberName(prefix: string, name: string): string {
  let byName = memberNames.get(prefix);
  if (byName === undefined) memberNames.set(prefix, (byName = new Map()));
  let full = byName.get(name);
  if (full === undefined) {
    full = prefix + name;
    // Names come from templates and URLs; the bound keeps a flood of URLs from growing the map.
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
