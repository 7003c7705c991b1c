"""An officer's workbook in the usual government layout: a two-row merged title, a line naming the
reporting unit and the unit, then the header with 序号 / 编号 / 名称 and the inputs by their Chinese
labels. Every town must be decided (exit 0), with one W160 note naming the header row taken; the total row
and the footer note below the towns are skipped with W161 notes, not decided as towns."""

from __future__ import annotations

from pathlib import Path

HEADER = ["序号", "编号", "名称", "主导产业类别", "特色主导产业年产值", "实力较强、行业知名的龙头企业数",
          "上下游配套企业户数(含家庭农场、专业合作社)", "历史传承厚重", "就业富民带动面广", "市场需求较大",
          "特色主导产业限定在一个乡(镇)内", "产业配套能力和竞争力较强", "主导产品具有历史发源地、地理标志等传统特色",
          "行业内影响力大、知名度高、市场占有率高", "已充分考虑发展前景", "产品特色突出", "公共服务完善", "发展环境良好"]
YES = ["是"] * 5
TOWNS = [
    [1, "M1", "青崖镇", "制造业", 120000, 2, 15, *YES, "否", "是", "是", "是", "是", "是"],   # pass
    [2, "M2", "石磨镇", "制造业", 99999, 2, 30, *YES, "否", "是", "是", "是", "是", "是"],    # fail: 99,999万元 < 10亿元
    [3, "M3", "砚池镇", "特色轻工(工艺美术)", 35000, 1, 12, *YES, "否", "是", "是", "是", "是", "是"],  # pass
]


def generate(folder: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "汇总表"
    sheet.append(["壶关县县级专业镇认定申报汇总表"])
    sheet.append([None])
    sheet.merge_cells(start_row=1, start_column=1, end_row=2, end_column=len(HEADER))
    sheet.append(["填报单位：县工信局", None, None, None, "单位：万元"])
    sheet.merge_cells("A3:D3")
    sheet.append(HEADER)
    for town in TOWNS:
        sheet.append(town)
    sheet.append([None, None, "合计", None, 254999, 5, 57])  # a total row: skipped with a note, not an entity
    sheet.append(["填表人：张三  联系电话：0355-0000000"])  # a footer note in the id column: skipped too
    book.save(folder / "towns.xlsx")


if __name__ == "__main__":
    generate(Path("."))
