"""Checks on the alert rules (deploy/helm/nopbridge/files/alerts.yaml), run by
scripts/check-deploy.sh: every expression parses as PromQL, every nopbridge_* series it uses
is one the services export (the runtime's series in crates/runtime/src/metrics.rs, and the
counters services add with `count("name", ...)`, exported as nopbridge_<name>_total) unless
the rule is marked "(planned series)", and every runbook link points at a heading of
docs/operations.md.

usage: alerts.py ALERTS.yaml REPO_ROOT
"""
import pathlib
import re
import sys

import promql_parser
import yaml

DURATION = re.compile(r"^\d+[smhd]$")


def fail(msg):
    print(f"alert rules check FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


def exported_series(root):
    metrics_rs = (root / "crates/runtime/src/metrics.rs").read_text()
    names = set(re.findall(r'\badd\(\s*"([a-z_]+)"', metrics_rs))
    if not names:
        fail("found no metric names in metrics.rs; has its layout changed?")
    series = {f"nopbridge_{n}" for n in names}
    for src in [*root.glob("services/*/src/**/*.rs"), *root.glob("crates/*/src/**/*.rs")]:
        code = re.sub(r"//.*", "", src.read_text())  # not the examples in doc comments
        series |= {f"nopbridge_{n}_total" for n in re.findall(r'\bcount\(\s*"([a-z_]+)"', code)}
    return series


def anchors(markdown):
    return {re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
            for h in re.findall(r"^#+ (.+)$", markdown, re.M)}


def main():
    root = pathlib.Path(sys.argv[2])
    text, ops = open(sys.argv[1]).read(), (root / "docs/operations.md").read_text()
    planned_blocks = {m.group(1) for m in re.finditer(
        r"- alert: (\w+)\n(?:(?!\s+- alert:).*\n)*?\s+# \(planned series\)", text)}
    series, headings = exported_series(root), anchors(ops)
    rules = [r for g in yaml.safe_load(text)["groups"] for r in g["rules"]]
    if not rules:
        fail("no rules")
    seen = set()
    for r in rules:
        name = r.get("alert")
        if not name or name in seen:
            fail(f"rule without a unique alert name: {r}")
        seen.add(name)
        try:
            promql_parser.parse(r["expr"])
        except ValueError as e:
            fail(f"{name}: expr is not valid PromQL: {e}")
        if "for" in r and not DURATION.match(str(r["for"])):
            fail(f"{name}: bad duration {r['for']!r}")
        if r.get("labels", {}).get("severity") not in {"critical", "warning", "info"}:
            fail(f"{name}: severity must be critical, warning or info")
        if not r.get("annotations", {}).get("summary"):
            fail(f"{name}: no summary")
        runbook = r.get("annotations", {}).get("runbook", "")
        if not runbook.startswith("docs/operations.md#") or runbook.split("#", 1)[1] not in headings:
            fail(f"{name}: runbook {runbook!r} is not a heading of docs/operations.md")
        used = set(re.findall(r"\bnopbridge_[a-z_]+", r["expr"]))
        unknown = used - series
        if unknown and name not in planned_blocks:
            fail(f"{name}: uses {sorted(unknown)}, which no service exports (mark the rule '# (planned series)')")
    print(f"{len(rules)} alert rules valid ({len(planned_blocks)} on planned series)", file=sys.stderr)


if __name__ == "__main__":
    main()
