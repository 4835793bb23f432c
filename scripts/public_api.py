#!/usr/bin/env python3
"""Lists the public API of a crate from its rustdoc JSON (format version 57, rustc 1.95), one
line per item, sorted: modules, functions with their signatures, re-exports with the canonical
path and kind of what they re-export, and the items of any struct, enum, trait, constant or type
alias the crate defines itself. Paths in signatures are canonical (from the JSON's `paths`), so
the listing changes only when the API does. Used by scripts/public-api.sh."""

import json
import sys

FORMAT_VERSIONS = {57}


def main(path):
    doc = json.load(open(path))
    if doc["format_version"] not in FORMAT_VERSIONS:
        sys.exit(
            f"{path}: rustdoc JSON format {doc['format_version']}; scripts/public_api.py reads "
            f"{sorted(FORMAT_VERSIONS)}: check its rendering against the new format and add it"
        )
    index, paths = doc["index"], doc["paths"]

    def canonical(i, written):
        entry = paths.get(str(i))
        return "::".join(entry["path"]) if entry else written

    def args(a):
        if not a:
            return ""
        if "angle_bracketed" in a:
            parts = []
            for g in a["angle_bracketed"]["args"]:
                if "type" in g:
                    parts.append(ty(g["type"]))
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
                    value = ty(value["type"]) if "type" in value else str(value)
                    parts.append(f"{c['name']} = {value}")
                else:
                    parts.append(f"{c['name']}: {bounds(binding['constraint'])}")
            return "<" + ", ".join(parts) + ">"
        if "parenthesized" in a:
            p = a["parenthesized"]
            out = "(" + ", ".join(ty(t) for t in p["inputs"]) + ")"
            return out + (f" -> {ty(p['output'])}" if p["output"] else "")
        return "<..>"

    def path_of(p):
        return canonical(p["id"], p["path"]) + args(p.get("args"))

    def bounds(bs):
        out = []
        for b in bs:
            if "trait_bound" in b:
                t = b["trait_bound"]
                hrtb = [g["name"] for g in t.get("generic_params", [])]
                prefix = f"for<{', '.join(hrtb)}> " if hrtb else ""
                modifier = {"maybe": "?", "maybe_const": "~const "}.get(t.get("modifier"), "")
                out.append(prefix + modifier + path_of(t["trait"]))
            elif "outlives" in b:
                out.append(b["outlives"])
            else:
                out.append(json.dumps(b, sort_keys=True))
        return " + ".join(out)

    def ty(t):
        if t is None:
            return "()"
        (kind, v), = t.items()
        if kind == "resolved_path":
            return path_of(v)
        if kind in ("generic", "primitive"):
            return v
        if kind == "borrowed_ref":
            life = f"{v['lifetime']} " if v["lifetime"] else ""
            return f"&{life}{'mut ' if v['is_mutable'] else ''}{ty(v['type'])}"
        if kind == "raw_pointer":
            return f"*{'mut' if v['is_mutable'] else 'const'} {ty(v['type'])}"
        if kind == "tuple":
            return "(" + ", ".join(ty(x) for x in v) + ")"
        if kind == "slice":
            return f"[{ty(v)}]"
        if kind == "array":
            return f"[{ty(v['type'])}; {v['len']}]"
        if kind == "impl_trait":
            return "impl " + bounds(v)
        if kind == "dyn_trait":
            traits = [path_of(x["trait"]) for x in v["traits"]]
            if v.get("lifetime"):
                traits.append(v["lifetime"])
            return "dyn " + " + ".join(traits)
        if kind == "qualified_path":
            trait = f" as {path_of(v['trait'])}" if v.get("trait") else ""
            return f"<{ty(v['self_type'])}{trait}>::{v['name']}"
        if kind == "function_pointer":
            return "fn(" + ", ".join(ty(x[1]) for x in v["sig"]["inputs"]) + f") -> {ty(v['sig']['output'])}"
        return kind

    def generics(g):
        params = []
        for p in g["params"]:
            (kind, v), = p["kind"].items()
            if kind == "lifetime":
                params.append(p["name"])
            elif kind == "type":
                if v.get("is_synthetic"):
                    continue  # an `impl Trait` argument, shown in place
                b = bounds(v["bounds"])
                params.append(p["name"] + (f": {b}" if b else ""))
            else:
                params.append(f"const {p['name']}: {ty(v['type'])}")
        where = []
        for w in g["where_predicates"]:
            if "bound_predicate" in w:
                b = w["bound_predicate"]
                where.append(f"{ty(b['type'])}: {bounds(b['bounds'])}")
            else:
                where.append(json.dumps(w, sort_keys=True))
        return ("<" + ", ".join(params) + ">" if params else ""), (
            " where " + ", ".join(where) if where else ""
        )

    def function(name, f):
        h = f["header"]
        quals = "".join(
            q for q, on in (("const ", h["is_const"]), ("async ", h["is_async"]), ("unsafe ", h["is_unsafe"])) if on
        )
        params, where = generics(f["generics"])
        inputs = ", ".join(f"{n}: {ty(t)}" for n, t in f["sig"]["inputs"])
        output = f" -> {ty(f['sig']['output'])}" if f["sig"]["output"] else ""
        return f"pub {quals}fn {name}{params}({inputs}){output}{where}"

    lines = []

    def walk(module_id, prefix):
        for i in index[str(module_id)]["inner"]["module"]["items"]:
            item = index[str(i)]
            name = item["name"]
            (kind, v), = item["inner"].items()
            here = f"{prefix}::{name}" if name else prefix
            if kind == "module":
                lines.append(f"pub mod {here}")
                walk(i, here)
            elif kind == "use":
                target = paths.get(str(v["id"])) if v["id"] is not None else None
                what = f"{'::'.join(target['path'])} ({target['kind']})" if target else v["source"]
                glob = "::*" if v["is_glob"] else ""
                lines.append(f"pub use {prefix}::{v['name']}{glob} = {what}")
            elif kind == "function":
                lines.append(function(here, v))
            else:
                # Items defined in the crate itself: their full JSON without ids, so any change shows.
                def strip(x):
                    if isinstance(x, dict):
                        return {k: strip(y) for k, y in x.items() if k not in ("id", "span")}
                    if isinstance(x, list):
                        return [strip(y) for y in x]
                    return x
                lines.append(f"pub {kind} {here} {json.dumps(strip(v), sort_keys=True)}")

    root = index[str(doc["root"])]
    walk(doc["root"], root["name"])
    print("\n".join(sorted(lines)))


if __name__ == "__main__":
    main(sys.argv[1])
