"""RefTool Toolbox: save/load, the card, bad input, trust, and a Hub round trip in a fresh process."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from hf_reft import Reference, Tool, Toolbox
from hf_reft.reftool.books import ReferenceFormatError, Section
from hf_reft.reftool.toolbox import (
    FORMAT_VERSION,
    BuildStats,
    ToolboxFormatError,
    UntrustedToolboxError,
    ValidationExample,
    ValidationRecord,
    check_tool_code,
)

CHEMISTRY = Path(__file__).resolve().parents[2] / "shared" / "data" / "openstax-chemistry-2e"

DENSITY = '''def density(mass_g, volume_cm3):
    """Density in g/cm^3 of a sample of mass_g grams occupying volume_cm3 cubic centimetres."""
    return mass_g / volume_cm3
'''
CUBE = """def cube_volume(edge_cm):
    return edge_cm ** 3
"""
MOLES = """import math


def moles_from_mass(mass_g, molar_mass_g_per_mol):
    return mass_g / molar_mass_g_per_mol
"""


@pytest.fixture(scope="module")
def chemistry() -> Reference:
    return Reference.load(CHEMISTRY)


def make_toolbox(chemistry: Reference) -> Toolbox:
    toolbox = Toolbox(
        chemistry, model="HuggingFaceTB/SmolLM2-135M-Instruct", settings={"tools_per_section": 2}
    )
    measurements = chemistry.section("1.4")
    example = measurements.examples[0]
    density = Tool(
        "density",
        "Density (g/cm^3) from a mass in g and a volume in cm^3.",
        DENSITY,
        ValidationExample(
            problem=example.check_problem,
            solution="print(round(density(5.34, cube_volume(0.843)), 2))",
            expected_answer="8.91 g/cm^3",
            source=f"Example {example.number} (section 1.4), Check Your Learning",
            example_id=example.id,
        ),
        ValidationRecord("passed", attempts=1, answer="8.91", output="8.91\n", seconds=0.04),
    )
    cube = Tool(
        "cube_volume",
        "Volume (cm^3) of a cube from its edge length in cm.",
        CUBE,
        ValidationExample(
            "Volume of a cube of edge 2.00 cm?", "print(cube_volume(2.00))", "8.00 cm^3", "Example 1.1"
        ),
        ValidationRecord("repaired", attempts=2, answer="8.0", output="8.0\n", error=None),
    )
    toolbox.add_section(
        measurements, [density, cube], BuildStats(proposed=3, first_pass=1, repaired=1, dropped=1)
    )
    toolbox.add_section(chemistry.section("1.0"), [], BuildStats(proposed=1, dropped=1))
    moles = Tool("moles_from_mass", "Moles from mass (g) and molar mass (g/mol).", MOLES)
    toolbox.add_section(chemistry.section("3.1"), [moles])
    return toolbox


def test_toolbox_structure(chemistry):
    toolbox = make_toolbox(chemistry)
    assert [ch.number for ch in toolbox.chapters] == [1, 3]
    assert [s.number for s in toolbox.chapters[0].sections] == ["1.0", "1.4"]  # book order
    assert [t.name for t in toolbox] == ["density", "cube_volume", "moles_from_mass"]
    assert toolbox.stats == BuildStats(proposed=5, first_pass=1, repaired=1, dropped=2)
    assert toolbox.section("3.1").stats == BuildStats(proposed=1)  # derived from the tools' records
    assert toolbox.tool("density").signature == "density(mass_g, volume_cm3)"
    assert toolbox.tool("density").docstring.startswith("Density in g/cm^3")
    assert toolbox.has_section("m68674") and not toolbox.has_section("m68675")
    assert toolbox.unique_name("density") == "density_2" and toolbox.unique_name("new") == "new"
    assert toolbox.source_code(["density", "cube_volume"]) == DENSITY + "\n" + CUBE
    assert toolbox.trusted
    toolbox.require_trusted()
    # Re-adding a section replaces its earlier build.
    toolbox.add_section(chemistry.section("3.1"), [], BuildStats(proposed=2, dropped=2))
    assert [t.name for t in toolbox] == ["density", "cube_volume"] and len(toolbox.sections) == 3


def test_save_and_load_a_local_folder(chemistry, tmp_path):
    toolbox = make_toolbox(chemistry)
    folder = toolbox.save_pretrained(tmp_path / "toolbox")
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "chapters/01-essential-ideas/1.4-measurements/cube_volume.py",
        "chapters/01-essential-ideas/1.4-measurements/density.py",
        "chapters/03-composition-of-substances-and-solutions/3.1-formula-mass-and-the-mole-concept/moles_from_mass.py",
        "toolbox.json",
    ]
    assert (folder / files[2]).read_text() == DENSITY
    index = json.loads((folder / "toolbox.json").read_text())
    assert index["format_version"] == FORMAT_VERSION
    assert index["counts"] == {
        "chapters": 2, "sections": 3, "tools": 3, "proposed": 5, "first_pass": 1, "repaired": 1, "dropped": 2,
    }  # fmt: skip
    assert index["reference"]["attribution"].startswith("OpenStax Chemistry 2e")
    density_entry = index["chapters"][0]["sections"][1]["tools"][0]
    assert density_entry["validation"]["expected_answer"] == "8.91 g/cm^3"
    assert density_entry["record"]["status"] == "passed"

    loaded = Toolbox.from_pretrained(folder)
    assert loaded.to_dict() == toolbox.to_dict()
    assert loaded.trusted and loaded.revision is None
    assert loaded.tool("density").validation == toolbox.tool("density").validation


def test_saved_source_names_no_local_folder(chemistry, tmp_path, monkeypatch):
    """A toolbox is published: its book's source is relative to the data folder, else a file name."""
    monkeypatch.setenv("HF_REFT_DATA_DIR", str(CHEMISTRY.parent))
    assert Path(chemistry.source).is_absolute()
    index = json.loads((make_toolbox(chemistry).save_pretrained(tmp_path / "a") / "toolbox.json").read_text())
    assert index["reference"]["source"] == "openstax-chemistry-2e/collections/chemistry-2e.collection.xml"
    monkeypatch.setenv("HF_REFT_DATA_DIR", str(tmp_path / "elsewhere"))
    index = json.loads((make_toolbox(chemistry).save_pretrained(tmp_path / "b") / "toolbox.json").read_text())
    assert index["reference"]["source"] == "chemistry-2e.collection.xml"


def test_card_names_book_attribution_model_and_counts(chemistry, tmp_path):
    folder = make_toolbox(chemistry).save_pretrained(tmp_path / "toolbox")
    text = (folder / "README.md").read_text()
    metadata = yaml.safe_load(text.split("---\n")[1])
    assert metadata["library_name"] == "hf-reft" and metadata["license"] == "cc-by-4.0"
    assert {"reftool", "chemistry"} <= set(metadata["tags"])
    assert "derived from **OpenStax Chemistry 2e, https://openstax.org/details/books/chemistry-2e" in text
    assert "| model that wrote the tools | `HuggingFaceTB/SmolLM2-135M-Instruct` |" in text
    assert "| passed after one repair | 1 |" in text and "| dropped (failed validation) | 2 |" in text
    assert "| 1. Essential Ideas | 2 | 1 | 2 | 4 | 1 | 1 | 2 |" in text  # 2 sections, tools in 1
    assert "| sections with a tool | 2 of 3 |" in text  # 1.4 and 3.1; 1.0 has none


def test_incremental_saves_replace_stale_files_and_fail_atomically(chemistry, tmp_path, monkeypatch):
    toolbox = make_toolbox(chemistry)
    folder = toolbox.save_pretrained(tmp_path / "toolbox")
    renamed = Tool(
        "cube_volume_cm3",
        "Volume of a cube (cm^3) from its edge (cm).",
        CUBE.replace("cube_volume", "cube_volume_cm3"),
    )
    toolbox.add_section(chemistry.section("1.4"), [toolbox.tool("density"), renamed])
    toolbox.save_pretrained(folder)
    section_dir = folder / "chapters/01-essential-ideas/1.4-measurements"
    assert sorted(p.name for p in section_dir.iterdir()) == ["cube_volume_cm3.py", "density.py"]
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}

    def broken_card(self, repo_id=None):
        raise RuntimeError("disk full")

    toolbox.add_section(chemistry.section("3.1"), [], BuildStats(proposed=1, dropped=1))
    monkeypatch.setattr(Toolbox, "card", broken_card)
    with pytest.raises(RuntimeError, match="disk full"):
        toolbox.save_pretrained(folder)
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before  # nothing half-written


# --------------------------------------------------------------------------- bad input
@pytest.fixture
def saved(chemistry, tmp_path) -> Path:
    return make_toolbox(chemistry).save_pretrained(tmp_path / "toolbox")


def _edit_index(folder: Path, change) -> None:
    index = json.loads((folder / "toolbox.json").read_text())
    change(index)
    (folder / "toolbox.json").write_text(json.dumps(index))


def test_tool_file_with_a_syntax_error(saved):
    path = saved / "chapters/01-essential-ideas/1.4-measurements/density.py"
    path.write_text("def density(mass_g, volume_cm3)\n    return mass_g / volume_cm3\n")
    with pytest.raises(
        ToolboxFormatError, match=r"Tool file chapters/.*/density\.py has a syntax error at line 1"
    ):
        Toolbox.from_pretrained(saved)


def test_index_pointing_at_a_missing_tool(saved):
    (saved / "chapters/01-essential-ideas/1.4-measurements/cube_volume.py").unlink()
    with pytest.raises(
        ToolboxFormatError,
        match=r"lists tool 'cube_volume' at chapters/.*cube_volume\.py, but that file is missing",
    ):
        Toolbox.from_pretrained(saved)


def test_unknown_format_version(saved):
    _edit_index(saved, lambda index: index.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(
        ToolboxFormatError, match=r"unknown format_version 2: it was written by a newer hf-reft: upgrade"
    ):
        Toolbox.from_pretrained(saved)
    _edit_index(saved, lambda index: index.pop("format_version"))
    with pytest.raises(ToolboxFormatError, match="unknown format_version None"):
        Toolbox.from_pretrained(saved)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda index: index["chapters"][0].pop("title"), r"chapters\[0\] lacks the field 'title'"),
        (lambda index: index["chapters"][0].update(number="one"), r"chapters\[0\] has a malformed field"),
        (
            lambda index: index["chapters"][0]["sections"][1].pop("id"),
            r"chapters\[0\]\.sections\[1\] lacks the field 'id'",
        ),
        (
            lambda index: index["chapters"][0]["sections"][0].update(stats={"kept": 3}),
            r"sections\[0\] has a malformed field",
        ),
    ],
)
def test_a_malformed_index_names_the_field(saved, change, message):
    _edit_index(saved, change)
    with pytest.raises(ToolboxFormatError, match=message):
        Toolbox.from_pretrained(saved)


def test_a_section_with_no_text_is_rejected():
    with pytest.raises(ReferenceFormatError, match=r"Section 2\.3 'Empty' of chapter 'Two' has no text"):
        Section("m1", "2.3", "Empty", 2, "Two", ("", "  \n"))
    with pytest.raises(ReferenceFormatError, match=r"Section 1\.1 'Blank' of chapter 'C'.*has no text"):
        Reference.from_markdown("# C\n## Blank\n\n## Next\nSome text.\n")


def test_other_bad_toolboxes(saved, tmp_path):
    with pytest.raises(ToolboxFormatError, match=r"toolbox\.json is missing"):
        Toolbox.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="neither an existing folder nor a valid Hub repo id"):
        Toolbox.from_pretrained("./no/such/toolbox")
    escape = tmp_path / "escape"
    shutil.copytree(saved, escape)
    _edit_index(
        escape, lambda index: index["chapters"][0]["sections"][1]["tools"][0].update(file="../../etc/passwd")
    )
    with pytest.raises(ToolboxFormatError, match=r"invalid file entry '\.\./\.\./etc/passwd'"):
        Toolbox.from_pretrained(escape)
    (saved / "toolbox.json").write_text("{not json")
    with pytest.raises(ToolboxFormatError, match="is not valid JSON"):
        Toolbox.from_pretrained(saved)


def test_bad_tools_are_refused_without_running_them(chemistry, tmp_path):
    with pytest.raises(
        ToolboxFormatError,
        match=r"does not define a top-level function named 'volume' \(it defines \['cube_volume'\]\)",
    ):
        Tool("volume", "Volume of a cube.", CUBE)
    with pytest.raises(ToolboxFormatError, match="not a valid tool name"):
        check_tool_code("two words", "def f(): pass")
    with pytest.raises(ToolboxFormatError, match="has no description"):
        Tool("cube_volume", " ", CUBE)
    toolbox = make_toolbox(chemistry)
    with pytest.raises(
        ValueError, match=r"'density' is already used in section 1\.4 Measurements.*'density_2'"
    ):
        toolbox.add_section(chemistry.section("2.1"), [Tool("density", "Again.", DENSITY)])
    # Loading parses tool files and never runs them.
    marker = tmp_path / "ran"
    sneaky = f"open({str(marker)!r}, 'w').write('x')\n\n\ndef sneaky():\n    return 1\n"
    toolbox.add_section(chemistry.section("2.1"), [Tool("sneaky", "Writes a file when imported.", sneaky)])
    loaded = Toolbox.from_pretrained(toolbox.save_pretrained(tmp_path / "tb"))
    assert loaded.tool("sneaky").code == sneaky and not marker.exists()


# --------------------------------------------------------------------------- the Hub
def test_hub_round_trip_in_a_fresh_process(chemistry, hub):
    repo_id = hub.repo_id("chemistry-toolbox")
    toolbox = make_toolbox(chemistry)
    first = toolbox.push_to_hub(repo_id)
    toolbox.add_section(
        chemistry.section("2.1"),
        [Tool("mass_number", "Protons plus neutrons.", "def mass_number(p, n):\n    return p + n\n")],
    )
    toolbox.push_to_hub(repo_id, commit_message="Section 2.1")
    expected = toolbox.to_dict()

    code = f"""
import json
from hf_reft import Toolbox
from hf_reft.reftool.toolbox import UntrustedToolboxError

toolbox = Toolbox.from_pretrained({repo_id!r})
try:
    toolbox.require_trusted()
    untrusted = "runnable"
except UntrustedToolboxError as err:
    untrusted = str(err)
trusted = Toolbox.from_pretrained({repo_id!r}, trust_remote_code=True)
trusted.require_trusted()
old = Toolbox.from_pretrained({repo_id!r}, revision={first.oid!r})
print(json.dumps({{"index": toolbox.to_dict(), "untrusted": untrusted, "trusted": trusted.trusted,
                  "revision": toolbox.revision, "old_tools": [t.name for t in old],
                  "code": toolbox.tool("density").code}}))
"""
    result = json.loads(hub.run_python(code).stdout.strip().splitlines()[-1])
    assert result["index"] == expected
    assert result["code"] == DENSITY
    assert (
        "downloaded from the Hub" in result["untrusted"] and "trust_remote_code=True" in result["untrusted"]
    )
    assert result["trusted"] is True
    assert len(result["revision"]) == 40
    assert result["old_tools"] == ["density", "cube_volume", "moles_from_mass"]
    card = hub.api.model_info(repo_id).card_data
    assert card.library_name == "hf-reft" and card.license == "cc-by-4.0"


def test_a_hub_cache_snapshot_loaded_by_path_is_not_trusted(saved, tmp_path):
    import shutil

    snapshot = tmp_path / "hub" / "models--someone--toolbox" / "snapshots" / ("a" * 40)
    shutil.copytree(saved, snapshot)
    (tmp_path / "alias").symlink_to(snapshot)
    for path in (snapshot, tmp_path / "alias"):  # however the path is spelled
        loaded = Toolbox.from_pretrained(path)
        assert not loaded.trusted
        with pytest.raises(UntrustedToolboxError, match="trust_remote_code=True"):
            loaded.require_trusted()
        assert Toolbox.from_pretrained(path, trust_remote_code=True).trusted
    assert Toolbox.from_pretrained(saved).trusted  # a folder of this machine's own stays trusted
