"""The report section of the prior-work audit (neuroevo.analysis.audit): per write-up, each
claim with the write-up's number, ours, the test and n, and its verdict with the reason;
counts of the verdicts first. Writes audit.parquet and audit.csv beside it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from neuroevo.analysis.audit import CONFIRMED, INCONCLUSIVE, NOT_RUN, REFUTED, UNTESTABLE

WRITE_UPS = {
    "000": "000, the first CMA-ES write-up",
    "001": "001, CMA-ES neuroevolution on Iris and MNIST 14x14",
    "002": "002, evolutionary discovery of optimizer update rules",
    "003": "003, a deep GA on MNIST",
    "004": "004, an ES gradient estimator",
}
ORDER = (CONFIRMED, REFUTED, INCONCLUSIVE, UNTESTABLE, NOT_RUN)


def _cell(text: str) -> str:
    return str(text).replace("|", "/").replace("\n", " ") or "-"


def audit_lines(table: pd.DataFrame, alpha: float, stand_ins: dict[str, str], protocol: str = "") -> list[str]:
    counts = table["verdict"].value_counts()
    lines = [
        "## Prior-work audit",
        "",
        "Each claim of the write-ups 000-004 (`../shared/prior-work/`, the numbers copied into "
        "`config/audit/prior-work-claims.yaml`) put to this pipeline's runs of their protocols, with the tests of the rest "
        f"of the report (alpha = {alpha}, Holm within a claim's comparisons). A claim is confirmed or refuted only by "
        "a test that could reach significance and did; inconclusive when the runs decide neither way; untestable as "
        "published when it cannot be tested as written; not run when its data are missing here.",
        "",
    ]
    if protocol:
        lines += [protocol, ""]
    for wanted, standing in stand_ins.items():
        lines += [
            f"**{standing} stands in for {wanted}** ({wanted}'s files are missing): claims about {wanted}'s numbers "
            f"are not run; claims about an ordering run on {standing} and say so.",
            "",
        ]
    lines += [
        "Verdicts: " + ", ".join(f"{verdict} {int(counts.get(verdict, 0))}" for verdict in ORDER) + ".",
        "",
    ]
    for write_up, rows in table.groupby("write_up", sort=True):
        lines += [
            f"### {WRITE_UPS.get(write_up, write_up)}",
            "",
            "| claim | write-up | ours | test | n | verdict |",
            "|---|---|---|---|---|---|",
        ]
        for _, row in rows.iterrows():
            verdict = f"**{row['verdict']}**" + (f" ({row['reason']})" if row["reason"] else "")
            if row["as_published"]:
                verdict += f"; as published: {row['as_published']}"
            lines.append(
                f"| {_cell(row['claim'])} | {_cell(row['theirs'])} | {_cell(row['ours'])} | {_cell(row['test'])} | "
                f"{int(row['n']) or '-'} | {_cell(verdict)} |"
            )
        lines.append("")
    return lines


def write_audit_section(
    table: pd.DataFrame, out: str | Path, alpha: float, stand_ins: dict[str, str], protocol: str = ""
) -> None:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out.with_name("audit.parquet"), index=False)
    table.to_csv(out.with_name("audit.csv"), index=False)
    out.write_text("\n".join(audit_lines(table, alpha, stand_ins, protocol)) + "\n")
