#!/usr/bin/env python3
"""List the import cycles between the source files of src/.

Every `use crate::…`, `use super::…`, `use child::…` (of a `mod child;` the file declares) and
inline `crate::…` / `super::…` path in a file is an arrow
from that file to the file of the module the path names (the longest prefix that is a module
file: `crate::regen::py::add` points at src/regen/py.rs, `crate::regen::Rebuilt` at
src/regen/mod.rs). Code under `#[cfg(test)]` does not count: a test may reach anywhere.

  python3 scripts/deps.py            exit 1 and print each cycle with the lines that close it
  python3 scripts/deps.py --layers   also print the files layer by layer, the lowest first

The tests run it (`no_import_cycles_between_source_files`), so a circle fails CI.
"""

import argparse
import os
import re
import sys
from collections import defaultdict

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def module_of(rel):
    """`regen/py.rs` → `regen::py`, `regen/mod.rs` → `regen`, `lib.rs` → `crate`."""
    stem = rel[:-3]
    if stem.endswith("/mod"):
        stem = stem[: -len("/mod")]
    if stem in ("lib", "main"):
        return "crate" if stem == "lib" else "main"
    return stem.replace("/", "::")


def strip_comments_and_strings(text):
    """Blank out comments and string literals, keeping line numbers."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:]) and (i == 0 or not text[i - 1].isalnum()):
            hashes = re.match(r"r(#*)\"", text[i:]).group(1)
            end = text.find('"' + hashes, i + 2 + len(hashes))
            end = n if end < 0 else end + 1 + len(hashes)
            out.append('""' + "\n" * text.count("\n", i, end))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:]):
            i += len(re.match(r"'(\\.|[^\\'])'", text[i:]).group(0))
            out.append("' '")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def strip_test_code(text):
    """Drop every item that follows `#[cfg(test)]` (a block or a single `;` item)."""
    out = []
    i = 0
    for m in re.finditer(r"#\[cfg\(test\)\]", text):
        if m.start() < i:
            continue
        out.append(text[i : m.start()])
        j = m.end()
        depth = 0
        while j < len(text):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    j += 1
                    break
            elif text[j] == ";" and depth == 0:
                j += 1
                break
            j += 1
        out.append("\n" * text.count("\n", m.start(), j))
        i = j
    out.append(text[i:])
    return "".join(out)


def expand_use_tree(tree):
    """`a::{b, c::{d, e}}` → ['a::b', 'a::c::d', 'a::c::e']."""
    tree = re.sub(r"\s+", "", tree)
    m = re.match(r"^(.*?)\{(.*)\}$", tree)
    if not m:
        return [tree.split("as")[0] if "::" in tree else tree]
    prefix, body = m.group(1), m.group(2)
    parts, depth, cur = [], 0, ""
    for ch in body:
        depth += ch == "{"
        depth -= ch == "}"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [prefix + p for part in parts if part for p in expand_use_tree(part)]


def arrows(root):
    files = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            if name.endswith(".rs"):
                path = os.path.join(dirpath, name)
                files[module_of(os.path.relpath(path, root))] = path
    edges = defaultdict(dict)  # module -> {target module: first line number}
    for module, path in files.items():
        with open(path, encoding="utf-8") as f:
            text = strip_test_code(strip_comments_and_strings(f.read()))
        here = [] if module in ("crate", "main") else module.split("::")
        children = set(re.findall(r"\bmod\s+(\w+)\s*;", text))
        found = []
        for m in re.finditer(r"\buse\s+([^;]+);", text):
            line = text.count("\n", 0, m.start()) + 1
            found += [(p, line) for p in expand_use_tree(m.group(1))]
        for m in re.finditer(r"(?<![\w:])((?:crate|super|self)(?:::\w+)+)", text):
            found.append((m.group(1), text.count("\n", 0, m.start()) + 1))
        for path_text, line in found:
            parts = path_text.split("::")
            if parts[0] == "crate":
                parts = parts[1:]
            elif parts[0] in ("super", "self"):
                # In a/b.rs `self` is a::b and `super` is a; in a/b/mod.rs the same holds.
                base = list(here)
                while parts and parts[0] in ("super", "self"):
                    if parts[0] == "super":
                        base = base[:-1]
                    parts = parts[1:]
                parts = base + parts
            elif parts[0] in children:
                # `use build::Rebuilt` in a module that declares `mod build;`.
                parts = here + parts
            else:
                continue
            for k in range(len(parts), 0, -1):
                target = "::".join(parts[:k])
                if target in files:
                    if target != module:
                        edges[module].setdefault(target, line)
                    break
    return files, edges


def cycles(nodes, edges):
    """Strongly connected components of more than one file (Tarjan, iterative)."""
    index, low, on_stack, stack, result = {}, {}, set(), [], []
    counter = 0
    for start in sorted(nodes):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    result.append(sorted(component))
    return result


def layers(nodes, edges):
    depth = {}

    def depth_of(node, seen=()):
        if node in depth:
            return depth[node]
        if node in seen:
            return 0
        below = [depth_of(t, seen + (node,)) for t in edges[node]]
        depth[node] = 1 + max(below, default=-1)
        return depth[node]

    for node in nodes:
        depth_of(node)
    by_layer = defaultdict(list)
    for node, d in depth.items():
        by_layer[d].append(node)
    return [sorted(by_layer[d]) for d in sorted(by_layer)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", action="store_true", help="print the files layer by layer")
    parser.add_argument("--src", default=ROOT, help="the source folder (default: this repo's src/)")
    args = parser.parse_args()
    files, edges = arrows(args.src)
    rel = {m: os.path.relpath(p, args.src) for m, p in files.items()}
    if args.layers:
        for i, layer in enumerate(layers(files, edges)):
            print(f"layer {i}: " + " ".join(rel[m] for m in layer))
    found = cycles(files, edges)
    for component in found:
        print(f"cycle of {len(component)} files:")
        for module in component:
            for target, line in sorted(edges[module].items()):
                if target in component:
                    print(f"  src/{rel[module]}:{line} -> src/{rel[target]}")
    if found:
        print(f"{len(found)} import cycles between files in {args.src}", file=sys.stderr)
        return 1
    print(f"no import cycles between the {len(files)} files of src/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
