#!/usr/bin/env python3
"""Lists the public API of a crate from rustdoc JSON (format version 57, rustc 1.95), one line
per item, sorted. Usage: public_api.py DOC_DIR CRATE (DOC_DIR holds CRATE.json and the JSON of the
workspace crates it re-exports from).

What is listed, so that any change an extension author could notice changes the listing:
- modules, functions with their signatures, constants, statics and type aliases;
- structs with their public fields (and whether private fields are hidden), enums with every
  variant and its fields, `#[non_exhaustive]` and the other attributes that bind users;
- traits with their supertraits, dyn-compatibility, and each method (signature, provided or
  required), associated type and constant;
- for every struct, enum and trait, its inherent methods and associated items, and the traits it
  implements (derives included; blanket and auto-trait impls are not listed: they follow from the
  rest).

A `pub use` of an item of another `sluice*` crate of the workspace is followed into that crate's
JSON: the item is listed with all of the above under the path users write (`sluice_api::...`),
beside a line naming its canonical path. Third-party re-exports (e.g. `object_store`) are listed
as re-exports only. Paths in signatures are canonical (from each JSON's `paths`), so the listing
changes only when the API does. Used by scripts/public-api.sh."""

import json
import os
import sys

FORMAT_VERSIONS = {57}
WORKSPACE_PREFIX = "sluice"
# Trait impls that follow from others listed (a derived PartialEq's marker).
IMPLIED = {"StructuralPartialEq"}


class Doc:
    """One crate's rustdoc JSON and the rendering of types and signatures in it."""

    def __init__(self, path, referenced):
        self.path = path
        self.referenced = referenced
        doc = json.load(open(path))
        if doc["format_version"] not in FORMAT_VERSIONS:
            sys.exit(
                f"{path}: rustdoc JSON format {doc['format_version']}; scripts/public_api.py reads "
                f"{sorted(FORMAT_VERSIONS)}: check its rendering against the new format and add it"
            )
        self.doc = doc
        self.index, self.paths = doc["index"], doc["paths"]
        self.crates = doc["external_crates"]
        self.name = self.index[str(doc["root"])]["name"]
        self.by_path = {
            tuple(p["path"]): i for i, p in self.paths.items() if p["crate_id"] == 0 and i in self.index
        }

    def item(self, i):
        return self.index[str(i)]

    def canonical(self, i, written):
        entry = self.paths.get(str(i))
        return "::".join(entry["path"]) if entry else written

    def args(self, a):
        if not a:
            return ""
        if "angle_bracketed" in a:
            parts = []
            for g in a["angle_bracketed"]["args"]:
                if "type" in g:
                    parts.append(self.ty(g["type"]))
                elif "lifetime" in g:
                    parts.append(g["lifetime"])
                elif "const" in g:
                    parts.append(str(g["const"].get("expr")))
                else:
                    parts.append("_")
            for c in a["angle_bracketed"]["constraints"]:
                binding = c["binding"]
                if "equality" in binding:
                    value = binding["equality"]
                    value = self.ty(value["type"]) if "type" in value else str(value)
                    parts.append(f"{c['name']} = {value}")
                else:
                    parts.append(f"{c['name']}: {self.bounds(binding['constraint'])}")
            return "<" + ", ".join(parts) + ">"
        if "parenthesized" in a:
            p = a["parenthesized"]
            out = "(" + ", ".join(self.ty(t) for t in p["inputs"]) + ")"
            return out + (f" -> {self.ty(p['output'])}" if p["output"] else "")
        return "<..>"

    def path_of(self, p):
        entry = self.paths.get(str(p["id"]))
        if entry and entry["kind"] in ("struct", "enum", "union", "trait", "type_alias"):
            crate = self.name if entry["crate_id"] == 0 else self.crates[str(entry["crate_id"])]["name"]
            if crate.startswith(WORKSPACE_PREFIX):
                self.referenced.add((crate, tuple(entry["path"])))
        return self.canonical(p["id"], p["path"]) + self.args(p.get("args"))

    def bounds(self, bs):
        out = []
        for b in bs:
            if "trait_bound" in b:
                t = b["trait_bound"]
                hrtb = [g["name"] for g in t.get("generic_params", [])]
                prefix = f"for<{', '.join(hrtb)}> " if hrtb else ""
                modifier = {"maybe": "?", "maybe_const": "~const "}.get(t.get("modifier"), "")
                out.append(prefix + modifier + self.path_of(t["trait"]))
            elif "outlives" in b:
                out.append(b["outlives"])
            else:
                out.append(json.dumps(b, sort_keys=True))
        return " + ".join(out)

    def ty(self, t):
        if t is None:
            return "()"
        ((kind, v),) = t.items()
        if kind == "resolved_path":
            return self.path_of(v)
        if kind in ("generic", "primitive"):
            return v
        if kind == "borrowed_ref":
            life = f"{v['lifetime']} " if v["lifetime"] else ""
            return f"&{life}{'mut ' if v['is_mutable'] else ''}{self.ty(v['type'])}"
        if kind == "raw_pointer":
            return f"*{'mut' if v['is_mutable'] else 'const'} {self.ty(v['type'])}"
        if kind == "tuple":
            return "(" + ", ".join(self.ty(x) for x in v) + ")"
        if kind == "slice":
            return f"[{self.ty(v)}]"
        if kind == "array":
            return f"[{self.ty(v['type'])}; {v['len']}]"
        if kind == "impl_trait":
            return "impl " + self.bounds(v)
        if kind == "dyn_trait":
            traits = [self.path_of(x["trait"]) for x in v["traits"]]
            if v.get("lifetime"):
                traits.append(v["lifetime"])
            return "dyn " + " + ".join(traits)
        if kind == "qualified_path":
            trait = f" as {self.path_of(v['trait'])}" if v.get("trait") else ""
            return f"<{self.ty(v['self_type'])}{trait}>::{v['name']}"
        if kind == "function_pointer":
            sig = v["sig"]
            return "fn(" + ", ".join(self.ty(x[1]) for x in sig["inputs"]) + f") -> {self.ty(sig['output'])}"
        return json.dumps({kind: v}, sort_keys=True)

    def generics(self, g):
        params = []
        for p in g["params"]:
            ((kind, v),) = p["kind"].items()
            if kind == "lifetime":
                params.append(p["name"])
            elif kind == "type":
                if v.get("is_synthetic"):
                    continue  # an `impl Trait` argument, shown in place
                b = self.bounds(v["bounds"])
                default = f" = {self.ty(v['default'])}" if v.get("default") else ""
                params.append(p["name"] + (f": {b}" if b else "") + default)
            else:
                params.append(f"const {p['name']}: {self.ty(v['type'])}")
        where = []
        for w in g["where_predicates"]:
            if "bound_predicate" in w:
                b = w["bound_predicate"]
                where.append(f"{self.ty(b['type'])}: {self.bounds(b['bounds'])}")
            else:
                where.append(json.dumps(w, sort_keys=True))
        return ("<" + ", ".join(params) + ">" if params else ""), (" where " + ", ".join(where) if where else "")

    def function(self, name, f, prefix="pub "):
        h = f["header"]
        quals = "".join(
            q for q, on in (("const ", h["is_const"]), ("async ", h["is_async"]), ("unsafe ", h["is_unsafe"])) if on
        )
        params, where = self.generics(f["generics"])
        inputs = ", ".join(f"{n}: {self.ty(t)}" for n, t in f["sig"]["inputs"])
        output = f" -> {self.ty(f['sig']['output'])}" if f["sig"]["output"] else ""
        return f"{prefix}{quals}fn {name}{params}({inputs}){output}{where}"


BINDING = ("#[non_exhaustive", "#[repr", "#[must_use", "#[deprecated", "#[no_mangle", "#[export_name")


def attrs(item):
    """The attributes that bind users (`#[non_exhaustive]`, `#[repr]`, `#[must_use]`, ...),
    rendered; the rest (docs, derive markers, thiserror's `#[error]` texts, lints) is left out:
    derives show as impls, and an error's message is not API."""
    out = []
    for a in item.get("attrs", []):
        if isinstance(a, str):
            text = f"#[{a}]"
        elif "other" in a:
            text = a["other"]
        else:
            ((k, v),) = a.items()
            text = f"#[{k}({json.dumps(v, sort_keys=True)})]"
        if text.startswith(BINDING):
            out.append(" ".join(text.split()))
    deprecation = item.get("deprecation")
    if deprecation:
        out.append(f"#[deprecated({json.dumps(deprecation, sort_keys=True)})]")
    return "".join(a + " " for a in sorted(out))


class Listing:
    def __init__(self, doc_dir, crate):
        self.doc_dir = doc_dir
        self.docs = {}
        self.lines = []
        # Workspace types named in listed signatures, and those listed, by (crate, canonical
        # path): a type an extension author meets in a signature is API too, re-exported or not.
        self.referenced = set()
        self.covered = set()
        self.root = self.load(crate)

    def load(self, crate):
        if crate not in self.docs:
            path = os.path.join(self.doc_dir, f"{crate}.json")
            if not os.path.exists(path):
                sys.exit(
                    f"{path} is missing: the listing follows a re-export into {crate}; "
                    f"add its package to the crates scripts/public-api.sh documents"
                )
            self.docs[crate] = Doc(path, self.referenced)
        return self.docs[crate]

    def emit(self, line):
        self.lines.append(line)

    def walk(self, doc, module_id, prefix):
        for i in doc.item(module_id)["inner"]["module"]["items"]:
            self.item(doc, i, prefix)

    def item(self, doc, i, prefix, name=None):
        item = doc.item(i)
        name = name or item["name"]
        ((kind, v),) = item["inner"].items()
        here = f"{prefix}::{name}" if name else prefix
        entry = doc.paths.get(str(i))
        if entry:
            self.covered.add((doc.name, tuple(entry["path"])))
        a = attrs(item)
        if kind == "module":
            self.emit(f"{a}pub mod {here}")
            self.walk(doc, i, here)
        elif kind == "use":
            self.use(doc, v, prefix)
        elif kind == "function":
            self.emit(a + doc.function(here, v))
        elif kind == "struct":
            self.struct(doc, here, item, v, a)
        elif kind == "enum":
            self.enum(doc, here, item, v, a)
        elif kind == "trait":
            self.trait(doc, here, v, a)
        elif kind == "type_alias":
            params, where = doc.generics(v["generics"])
            self.emit(f"{a}pub type {here}{params} = {doc.ty(v['type'])}{where}")
        elif kind == "constant":
            self.emit(f"{a}pub const {here}: {doc.ty(v['type'])} = {v['const']['expr']}")
        elif kind == "static":
            mutable = "mut " if v.get("is_mutable") else ""
            self.emit(f"{a}pub static {mutable}{here}: {doc.ty(v['type'])}")
        elif kind == "macro":
            self.emit(f"{a}pub macro {here}! {v}")
        else:
            self.emit(f"{a}pub {kind} {here} {json.dumps(v, sort_keys=True)}")

    def use(self, doc, v, prefix):
        target = doc.paths.get(str(v["id"])) if v["id"] is not None else None
        glob = "::*" if v["is_glob"] else ""
        if not target:
            self.emit(f"pub use {prefix}::{v['name']}{glob} = {v['source']}")
            return
        crate = doc.crates[str(target["crate_id"])]["name"] if target["crate_id"] else None
        self.emit(f"pub use {prefix}::{v['name']}{glob} = {'::'.join(target['path'])} ({target['kind']})")
        if crate is None or not crate.startswith(WORKSPACE_PREFIX):
            return  # the crate's own items are listed where they are defined; third-party ones are not ours
        other = self.load(crate)
        local = other.by_path.get(tuple(target["path"]))
        if local is None:
            sys.exit(f"{other.path}: no public item {'::'.join(target['path'])} (re-exported by {prefix})")
        if v["is_glob"]:
            self.walk(other, local, prefix)
        else:
            self.item(other, local, prefix, v["name"])

    def fields(self, doc, here, ids, stripped, what):
        for n, f in enumerate(ids):
            if f is None:
                self.emit(f"{what} {here}.{n}: (private)")
                continue
            field = doc.item(f)
            self.emit(f"{attrs(field)}{what} {here}.{field['name']}: {doc.ty(field['inner']['struct_field'])}")
        if stripped:
            self.emit(f"{what} {here}: private fields hidden")

    def shape(self, doc, here, kind, what):
        ((k, v),) = kind.items() if isinstance(kind, dict) else ((kind, None),)
        if k == "unit":
            self.emit(f"{what} {here}: unit")
        elif k == "plain" and v is None:
            self.emit(f"{what} {here}: unit")
        elif k == "tuple":
            self.emit(f"{what} {here}: tuple of {len(v)}")
            self.fields(doc, here, v, False, what)
        else:
            self.emit(f"{what} {here}: fields")
            self.fields(doc, here, v["fields"], v["has_stripped_fields"], what)

    def struct(self, doc, here, item, v, a):
        params, where = doc.generics(v["generics"])
        self.emit(f"{a}pub struct {here}{params}{where}")
        self.shape(doc, here, v["kind"], "field")
        self.impls(doc, here, v["impls"])

    def enum(self, doc, here, item, v, a):
        params, where = doc.generics(v["generics"])
        self.emit(f"{a}pub enum {here}{params}{where}")
        for vid in v["variants"]:
            variant = doc.item(vid)
            inner = variant["inner"]["variant"]
            path = f"{here}::{variant['name']}"
            discriminant = f" = {inner['discriminant']['expr']}" if inner.get("discriminant") else ""
            self.emit(f"{attrs(variant)}variant {path}{discriminant}")
            self.shape(doc, path, inner["kind"], "variant-field")
        if v["has_stripped_variants"]:
            self.emit(f"variant {here}: private variants hidden")
        self.impls(doc, here, v["impls"])

    def assoc(self, doc, here, ids, what):
        for i in ids:
            member = doc.item(i)
            ((kind, m),) = member["inner"].items()
            path = f"{here}::{member['name']}"
            a = attrs(member)
            if kind == "function":
                provided = " (provided)" if m.get("has_body") and what == "trait" else ""
                self.emit(a + doc.function(path, m, prefix=f"{what} ") + provided)
            elif kind == "assoc_const":
                value = f" = {m['value']}" if m.get("value") else ""
                self.emit(f"{a}{what} const {path}: {doc.ty(m['type'])}{value}")
            elif kind == "assoc_type":
                params, where = doc.generics(m["generics"])
                b = doc.bounds(m["bounds"])
                value = f" = {doc.ty(m['type'])}" if m.get("type") else ""
                self.emit(f"{a}{what} type {path}{params}{': ' + b if b else ''}{value}{where}")
            else:
                self.emit(f"{a}{what} {kind} {path} {json.dumps(m, sort_keys=True)}")

    def impls(self, doc, here, ids):
        for i in ids:
            if str(i) not in doc.index:
                continue
            impl = doc.item(i)["inner"]["impl"]
            if impl["is_synthetic"] or impl["blanket_impl"] is not None:
                continue
            if impl["trait"] is None:
                self.assoc(doc, here, impl["items"], "pub")
            elif impl["trait"]["path"] not in IMPLIED:
                params, where = doc.generics(impl["generics"])
                neg = "!" if impl["is_negative"] else ""
                unsafe = "unsafe " if impl["is_unsafe"] else ""
                target = impl["for"]
                args = doc.args(target["resolved_path"].get("args")) if "resolved_path" in target else ""
                self.emit(f"{unsafe}impl{params} {neg}{doc.path_of(impl['trait'])} for {here}{args}{where}")

    def trait(self, doc, here, v, a):
        params, where = doc.generics(v["generics"])
        b = doc.bounds(v["bounds"])
        quals = ("unsafe " if v["is_unsafe"] else "") + ("auto " if v["is_auto"] else "")
        dyn = "" if v["is_dyn_compatible"] else " (not dyn-compatible)"
        self.emit(f"{a}pub {quals}trait {here}{params}{': ' + b if b else ''}{where}{dyn}")
        self.assoc(doc, here, v["items"], "trait")


def main(doc_dir, crate):
    listing = Listing(doc_dir, crate)
    doc = listing.root
    root = doc.item(doc.doc["root"])
    listing.walk(doc, doc.doc["root"], root["name"])
    # Then every workspace type a listed signature names that is not re-exported, under its
    # canonical path, until nothing new is named.
    while pending := sorted(listing.referenced - listing.covered):
        for crate, path in pending:
            listing.covered.add((crate, path))
            other = listing.load(crate)
            local = other.by_path.get(path)
            if local is None:
                listing.emit(f"unreachable {'::'.join(path)} (named in the API, not public)")
                continue
            listing.item(other, local, "::".join(path[:-1]), path[-1])
    print("\n".join(sorted(set(listing.lines))))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
