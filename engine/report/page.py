"""The chrome every HTML report page shares: the page's head (charset, viewport, a Content-Security-
Policy that allows no script and no network, the title), the style sheet, the note shown where no
Chinese font is installed, and escaping. The pages themselves are engine.report.pages2's (and format
1's html and scoring_pages); the web app's pages have their own style.
"""

from __future__ import annotations

import html
from typing import Any

# Fonts: a CJK stack first (Simplified Chinese faces of Linux, macOS and Windows), then the
# system sans-serif. Where none is installed Chinese shows as boxes; the page then shows the
# note below (in English, which any font can draw), detected without script: the probe face
# exists only if one of the CJK fonts does, and draws the note at 1% of its size, so the note
# is invisible exactly when a CJK font is there. The local() names are full and PostScript names.
CJK_FONTS = ('"Noto Sans CJK SC","Noto Sans SC","Source Han Sans SC","PingFang SC","Hiragino Sans GB",'
             '"Microsoft YaHei","WenQuanYi Zen Hei","WenQuanYi Micro Hei","SimSun"')
_CJK_LOCAL = ", ".join(f'local("{name}")' for name in (
    "Noto Sans CJK SC", "Noto Sans CJK SC Regular", "NotoSansCJKsc-Regular", "Noto Sans SC",
    "Noto Sans SC Regular", "NotoSansSC-Regular", "Source Han Sans SC", "Source Han Sans SC Regular",
    "SourceHanSansSC-Regular", "PingFang SC", "PingFangSC-Regular", "Hiragino Sans GB W3",
    "HiraginoSansGB-W3", "Microsoft YaHei", "MicrosoftYaHei", "WenQuanYi Zen Hei", "WenQuanYiZenHei",
    "WenQuanYi Micro Hei", "WenQuanYiMicroHei", "SimSun"))

CSS = """
:root{--pass:#1b7f3b;--fail:#b3261e;--und:#9a6700;--line:#d0d7de;--muted:#57606a;--bg:#f6f8fa}
*{box-sizing:border-box}
html{-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{font-family:""" + CJK_FONTS + """,system-ui,sans-serif;
margin:0 auto;max-width:1200px;padding:24px;color:#1f2328;line-height:1.5;font-size:14px;overflow-wrap:break-word}
@font-face{font-family:"certify-cjk-probe";src:""" + _CJK_LOCAL + """;size-adjust:1%}
.cjk-note{font-family:"certify-cjk-probe",system-ui,sans-serif;margin:0;color:var(--fail);font-size:13px;line-height:1.2}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;border-bottom:2px solid var(--line);padding-bottom:4px;margin-top:32px}
h3{font-size:16px;margin:0}
.meta{color:var(--muted);font-size:12px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 16px;min-width:120px;background:var(--bg)}
.card b{display:block;font-size:24px}
.card.pass b{color:var(--pass)}.card.fail b{color:var(--fail)}.card.undetermined b{color:var(--und)}
.scroll{max-width:100%;overflow-x:auto;margin:8px 0}
.scroll>table{margin:0}
table{border-collapse:collapse;width:100%;margin:8px 0}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--bg);font-weight:600}
.overview td:first-child{white-space:nowrap}
.badge{white-space:nowrap;display:inline-block;border-radius:12px;padding:1px 10px;color:#fff;font-weight:600;font-size:13px}
.badge.pass{background:var(--pass)}.badge.fail{background:var(--fail)}.badge.undetermined{background:var(--und)}
.st{font-weight:700;white-space:nowrap;width:5.5em}
.checklist td:nth-child(2){white-space:nowrap}
.st.met{color:var(--pass)}.st.not_met{color:var(--fail)}.st.unknown{color:var(--und)}
tr.not_met td{background:#fff5f5}tr.unknown td{background:#fffbea}
.entity{border:1px solid var(--line);border-radius:8px;padding:12px 16px;margin:16px 0;page-break-inside:avoid}
.entity.pass{border-left:6px solid var(--pass)}.entity.fail{border-left:6px solid var(--fail)}
.entity.undetermined{border-left:6px solid var(--und)}
.entity header{display:flex;gap:12px;align-items:center;flex-wrap:wrap}
.why{margin:6px 0}
.what{background:#eef6ff;border:1px solid #b6d4fe;border-radius:6px;padding:8px 12px;margin:8px 0}
.what h4,.missing h4{margin:0 0 4px;font-size:14px}
.missing{background:#fffbea;border:1px solid #f0d98c;border-radius:6px;padding:8px 12px;margin:8px 0}
.tag{display:inline-block;border:1px solid var(--line);border-radius:4px;padding:0 4px;font-size:12px;color:var(--muted)}
.cite a{color:inherit}
blockquote{margin:6px 0;padding:4px 12px;border-left:4px solid var(--line);color:#333;background:var(--bg)}
.small{font-size:12px;color:var(--muted)}
.problems li,.small{overflow-wrap:anywhere}
.bar{display:inline-block;height:10px;background:var(--fail);vertical-align:middle}
.bar.unk{background:var(--und)}
svg{max-width:100%;height:auto}
@media (max-width:600px){
body{padding:12px;font-size:13px}
.card{flex:1 1 calc(50% - 12px);min-width:0;padding:8px 12px}
.entity{padding:10px;border-radius:6px}
.scroll>table{min-width:560px}
}
@page{size:A4;margin:14mm 12mm 16mm;
@bottom-center{content:counter(page) " / " counter(pages);font-size:9pt;color:#57606a}}
@media print{
body{max-width:none;padding:0;font-size:11px}
.entity,.zone,tr{break-inside:avoid}
.scroll{overflow:visible}
h2{break-after:avoid}
a{color:inherit;text-decoration:none}
}
"""

CJK_NOTE = ("Chinese characters may show as boxes: this computer has no Chinese (CJK) font. "
            "Install one, e.g. Noto Sans CJK SC (Debian/Ubuntu: fonts-noto-cjk), or open the report "
            "on another computer.")


def page_head(title: str, lang: str, css: str) -> str:
    """The start of a report page, up to and including the CJK font note at the top of the body."""
    html_lang = "zh-CN" if lang == "zh" else "en"
    return (f'<!DOCTYPE html>\n<html lang="{html_lang}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            f"img-src data:\">\n<title>{escape(title)}</title>\n<style>{css}</style>\n</head>\n<body>\n"
            f'<p class="cjk-note" lang="en">{escape(CJK_NOTE)}</p>\n')


def escape(text: Any) -> str:
    """Text for HTML, quotes escaped too (None is empty)."""
    return html.escape("" if text is None else str(text), quote=True)
