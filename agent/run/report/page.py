"""The report's one HTML page: a summary with plots, filters, and a card per clip.

Everything is inline (the style, the SVG plots, a few lines of script for the filters); images
are referenced by relative paths inside the report folder. Every text from a caption, a record
or a file name is escaped. Without script the page still shows every clip; the filters read and
write the address's ``#status=..&class=..&camera=..`` part, so a filtered view can be linked.
"""

from __future__ import annotations

import json
from collections import Counter
from html import escape
from pathlib import Path
from typing import Callable

from agent.core.caption import STRUCTURAL_KEY
from agent.run.report.collect import ClipView
from agent.run.report.plots import STATUS_COLOURS, bar_chart, histogram

GENERATOR = "instance-agent report"

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header,#summary,#filters,main{max-width:1200px;margin:0 auto;padding:8px 16px}
h1{font-size:22px;margin:12px 0 4px}h2{font-size:17px;margin:0 0 6px}
.plots{display:flex;flex-wrap:wrap;gap:12px}.plot{background:#fff;border:1px solid #dde;border-radius:6px}
.plot text{font-size:12px;fill:#1d2330}.plot .title{font-weight:600;font-size:13px}.plot .small{font-size:11px}
.plot .empty{fill:#889}
#filters{position:sticky;top:0;background:#f4f5f7;border-bottom:1px solid #dde;z-index:1}
#filters label{margin-right:14px}#shown{font-weight:600}
.clip{background:#fff;border:1px solid #dde;border-radius:6px;margin:12px 0;padding:12px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;vertical-align:middle}
.ok{background:#2e8b57}.degraded{background:#d2901c}.failed{background:#c0392b}.other{background:#777}
.meta{color:#556;font-size:12px;margin-bottom:8px}
.frames img{max-width:min(100%,760px);border-radius:4px}
.instances{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}
.instances figure{margin:0;font-size:12px;text-align:center}.instances img{height:120px;border-radius:4px}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #e3e5ea;padding:3px 6px;vertical-align:top;text-align:left}
th{background:#f0f2f6}.problems li{color:#a3311f}.notes li{color:#6b5a12}
pre{white-space:pre-wrap;background:#f7f7f9;padding:6px;border-radius:4px;font-size:12px}
details{margin:6px 0}summary{cursor:pointer;color:#2a4f86}
.gone{color:#889;font-style:italic}
"""

SCRIPT = """
(function(){
 var keys=['status','class','camera'];
 function pick(){var f={};keys.forEach(function(k){f[k]=document.getElementById('f-'+k).value;});return f;}
 function apply(){
  var f=pick(),cards=document.querySelectorAll('article.clip'),shown=0;
  cards.forEach(function(c){
   var ok=(!f.status||c.dataset.status===f.status)&&(!f['class']||c.dataset.classes.indexOf('|'+f['class']+'|')>=0)
     &&(!f.camera||c.dataset.camera.indexOf('|'+f.camera+'|')>=0);
   c.style.display=ok?'':'none';if(ok)shown++;});
  document.getElementById('shown').textContent=shown+' of '+cards.length+' clip(s) shown';
  var h=keys.filter(function(k){return f[k];}).map(function(k){return k+'='+encodeURIComponent(f[k]);}).join('&');
  if(('#'+h)!==location.hash&&(h||location.hash))history.replaceState(null,'',h?'#'+h:location.pathname);
 }
 location.hash.replace(/^#/,'').split('&').forEach(function(p){var kv=p.split('=');
  var el=document.getElementById('f-'+kv[0]);if(el&&kv.length===2)el.value=decodeURIComponent(kv[1]);});
 keys.forEach(function(k){document.getElementById('f-'+k).addEventListener('change',apply);});
 apply();
})();
"""


def _badge(status: str) -> str:
    kind = status if status in STATUS_COLOURS else "other"
    return f'<span class="badge {kind}">{escape(status)}</span>'


def _options(name: str, label: str, values: list[str]) -> str:
    options = "".join(f'<option value="{escape(v)}">{escape(v)}</option>' for v in values)
    return f'<label>{label} <select id="f-{name}"><option value="">all</option>{options}</select></label>'


def _caption_html(caption: dict | None) -> str:
    if not caption:
        return '<p class="gone">no caption</p>'
    sd = caption.get(STRUCTURAL_KEY) or {}
    rows = "".join(
        f"<tr><td>{escape(str(key))}</td><td>{escape(str(inst.get('Class', '')))}</td>"
        f"<td>{escape(str(inst.get('Appearance', '')))}</td><td>{escape(str(inst.get('Actions and Motion', '')))}</td>"
        f"<td>{escape(str(inst.get('Position', '')))}</td></tr>"
        for key, inst in (sd.get("Main Instance") or {}).items() if isinstance(inst, dict))
    parts = [f'<p class="global"><b>{escape(str(caption.get("Global Description", "")))}</b></p>']
    if rows:
        parts.append("<table><tr><th>instance</th><th>class</th><th>appearance</th><th>action and motion</th>"
                     f"<th>position</th></tr>{rows}</table>")
    parts.append(f"<p><b>Background:</b> {escape(str(sd.get('Background Detail', '')))}</p>"
                 f"<p><b>Camera:</b> {escape(str(sd.get('Camera Movement', '')))}</p>")
    extra = {k: v for k, v in caption.items() if k not in ("Video", "Global Description", STRUCTURAL_KEY)}
    for name, value in extra.items():
        parts.append(f"<details><summary>{escape(name)}</summary><pre>"
                     f"{escape(json.dumps(value, indent=1, ensure_ascii=False))}</pre></details>")
    return "".join(parts)


def _list(css: str, title: str, items: list[str]) -> str:
    if not items:
        return ""
    return f'<div class="{css}"><b>{title}</b><ul>' + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul></div>"


def _table(rows: dict[str, str]) -> str:
    return "<table>" + "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows.items()) + "</table>"


def _card(n: int, clip: ClipView, src: Callable[[Path], str]) -> str:
    seconds = f"{clip.seconds:.1f} s" if clip.seconds is not None else "time not recorded"
    meta = f"{escape(clip.path)} · backend {escape(clip.backend)} · {seconds} · {clip.words} words"
    images = [f'<div class="frames"><img src="{src(f)}" loading="lazy" alt="sampled frames of {escape(clip.name)}">'
              "</div>" for f in clip.frames]
    views = "".join(f'<figure><img src="{src(p)}" loading="lazy" alt="{escape(p.stem)}">'
                    f"<figcaption>{escape(p.stem)}</figcaption></figure>" for p in clip.instances)
    if views:
        images.append(f'<div class="instances">{views}</div>')
    if not images:
        where = f"run folder {clip.run_dir} is gone" if clip.run_dir and not clip.run_folder_found else "no run folder"
        images.append(f'<p class="gone">no images ({escape(where)})</p>')
    disagreements = [f"round {r}: {p}" for r, p in clip.disagreements]
    body = [f'<h2>{escape(clip.name)} {_badge(clip.status)}</h2><div class="meta">{meta}</div>', *images,
            _caption_html(clip.caption)]
    if clip.error:
        body.append(_list("problems", "Error", [clip.error]))
    body.append(_list("problems", "Problems left in the caption", clip.problems))
    body.append(_list("notes", "Notes", clip.notes))
    if disagreements:
        body.append(f"<details open><summary>Disagreements with the evidence, found while validating "
                    f"({len(disagreements)})</summary>{_list('problems', '', disagreements)}</details>")
    if clip.evidence:
        body.append(f"<details><summary>Evidence ({len(clip.evidence)} tools)</summary>{_table(clip.evidence)}</details>")
    if clip.timings:
        body.append(f"<details><summary>Timings</summary>"
                    f"{_table({k: f'{v:.3f}' for k, v in clip.timings.items()})}</details>")
    data = (f'data-status="{escape(clip.status)}" data-classes="|{escape("|".join(clip.classes))}|" '
            f'data-camera="|{escape("|".join(clip.camera))}|"')
    return f'<article class="clip" id="clip-{n}" {data}>{"".join(body)}</article>'


def summary(clips: list[ClipView]) -> str:
    statuses = Counter(c.status for c in clips)
    classes = Counter(k for c in clips for k in c.classes)
    cameras = Counter(k for c in clips for k in c.camera)
    plots = [bar_chart("Statuses", dict(statuses), STATUS_COLOURS), bar_chart("Instance classes", dict(classes)),
             bar_chart("Camera moves", dict(cameras)),
             histogram("Caption length", [c.words for c in clips if c.caption], "words"),
             histogram("Seconds per clip", [c.seconds for c in clips if c.seconds is not None], "s")]
    return f'<section id="summary"><h2>Summary</h2><div class="plots">{"".join(plots)}</div></section>'


def render(title: str, clips: list[ClipView], src_for: Callable[[int], Callable[[Path], str]]) -> str:
    """The page; ``src_for(n)`` gives clip ``n``'s function from an image to its address in the report."""
    statuses = Counter(c.status for c in clips)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())) or "no clips"
    filters = (_options("status", "Status", sorted(statuses)) +
               _options("class", "Class", sorted({k for c in clips for k in c.classes})) +
               _options("camera", "Camera", sorted({k for c in clips for k in c.camera})) +
               f'<span id="shown">{len(clips)} clip(s)</span>')
    cards = "".join(_card(n, c, src_for(n)) for n, c in enumerate(clips))
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="generator" content="{GENERATOR}">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
            f"<header><h1>{escape(title)}</h1><p id=\"counts\">{len(clips)} clip(s): {escape(counts)}</p></header>"
            f"{summary(clips)}<section id=\"filters\">{filters}</section><main id=\"clips\">{cards}</main>"
            f"<script>{SCRIPT}</script></body></html>\n")
