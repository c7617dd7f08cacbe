"""RefTool references: OpenStax (CollXML + CNXML + MathML) and Markdown books, worked examples, splitting."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from hf_reft.reftool.books import Reference, ReferenceFormatError, Section, WorkedExample, stated_answer
from hf_reft.reftool.books.cnxml import render_inline, render_math

CHEMISTRY = Path(__file__).resolve().parents[2] / "shared" / "data" / "openstax-chemistry-2e"
M = 'xmlns:m="http://www.w3.org/1998/Math/MathML"'
C = 'xmlns="http://cnx.rice.edu/cnxml"'


@pytest.fixture(scope="module")
def chemistry() -> Reference:
    return Reference.load(CHEMISTRY)


def math(xml: str) -> str:
    return render_math(ET.fromstring(f"<m:math {M}>{xml}</m:math>"))


# --------------------------------------------------------------------------- MathML / CNXML rendering
@pytest.mark.parametrize(
    ("xml", "text"),
    [
        ("<m:mfrac><m:mi>a</m:mi><m:mi>b</m:mi></m:mfrac>", "a/b"),
        ("<m:mfrac><m:mtext>90.7 g</m:mtext><m:msup><m:mtext>8.00 cm</m:mtext><m:mn>3</m:mn></m:msup></m:mfrac>", "(90.7 g)/(8.00 cm^3)"),
        ("<m:msup><m:mi>a</m:mi><m:mi>b</m:mi></m:msup>", "a^b"),
        ("<m:msub><m:mi>a</m:mi><m:mi>b</m:mi></m:msub>", "a_b"),
        ("<m:msubsup><m:mi>S</m:mi><m:mn>298</m:mn><m:mo>°</m:mo></m:msubsup>", "S_298^°"),
        ("<m:msqrt><m:mn>2</m:mn><m:mo>+</m:mo><m:mi>x</m:mi></m:msqrt>", "sqrt(2 + x)"),
        ("<m:mroot><m:mi>x</m:mi><m:mn>3</m:mn></m:mroot>", "root(x, 3)"),
        ("<m:mn>10</m:mn><m:msup><m:mrow/><m:mrow><m:mo>−</m:mo><m:mn>19</m:mn></m:mrow></m:msup>", "10^-19"),
        ("<m:mn>1</m:mn><m:menclose notation='horizontalstrike'><m:mtext>mol HCl</m:mtext></m:menclose>", "1mol HCl"),
        ("<m:mtext>CaCO</m:mtext><m:mover><m:mo>⟶</m:mo><m:mtext>Δ</m:mtext></m:mover><m:mtext>CaO</m:mtext>", "CaCO ⟶(Δ) CaO"),
        ("<m:mtable><m:mtr><m:mtd><m:mi>x</m:mi><m:mo>=</m:mo><m:mn>1</m:mn></m:mtd></m:mtr>"
         "<m:mtr><m:mtd><m:mi>y</m:mi><m:mo>=</m:mo><m:mn>2</m:mn></m:mtd></m:mtr></m:mtable>", "x = 1\ny = 2"),
        ("<m:mn>5.09</m:mn><m:mo>×</m:mo><m:msup><m:mn>10</m:mn><m:mn>14</m:mn></m:msup><m:msup><m:mtext>s</m:mtext>"
         "<m:mrow><m:mo>−</m:mo><m:mn>1</m:mn></m:mrow></m:msup>", "5.09 × 10^14 s^-1"),
    ],
)  # fmt: skip
def test_mathml_renders_readably(xml, text):
    assert math(xml) == text


def test_inline_cnxml_sub_and_sup():
    para = ET.fromstring(
        f"<para {C}>H<sub>2</sub>O, K<sub>a</sub>, 19.3 g/cm<sup>3</sup> and 10<sup>−6</sup> s</para>"
    )
    assert render_inline(para) == "H2O, K_a, 19.3 g/cm^3 and 10^-6 s"


# --------------------------------------------------------------------------- Chemistry 2e
def test_chemistry_2e_counts(chemistry):
    """The numbers reported for issue 9: 21 chapters, 135 sections, 301 worked examples, parts under 6,000 chars."""
    summary = chemistry.summary(6000)
    assert summary["chapters"] == 21
    assert summary["sections"] == 135  # 21 chapter introductions + 114 numbered sections
    assert sum(s.number.endswith(".0") for s in chemistry.sections) == 21
    assert summary["all_examples"] == 301  # every <example> of the book, as the data README says
    assert summary["examples"] == 289  # in the chapters; the other 12 are in Appendix B
    assert (summary["front_matter_sections"], summary["back_matter_sections"]) == (1, 13)
    assert summary["parts"] == 414
    assert sum(ex.check_answer is not None for ex in chemistry.all_examples) == 289
    assert [c.title for c in chemistry.chapters][:2] == ["Essential Ideas", "Atoms, Molecules, and Ions"]
    assert chemistry.chapter(21).title == "Nuclear Chemistry"
    assert chemistry.license == "CC BY 4.0"
    assert chemistry.attribution.startswith("OpenStax Chemistry 2e")


@pytest.mark.slow
def test_chemistry_2e_parts_under_a_token_budget(chemistry):
    from transformers import AutoTokenizer

    from hf_reft.models import default_chat_model_path

    tokenizer = AutoTokenizer.from_pretrained(default_chat_model_path())
    parts = list(chemistry.parts(1500, tokenizer=tokenizer))
    assert len(parts) == 449
    assert all(p.unit == "tokens" and p.size <= 1500 for p in parts)
    assert all(len(tokenizer.encode(p.text, add_special_tokens=False)) == p.size for p in parts[:40])


def test_worked_example_has_problem_solution_and_stated_answers(chemistry):
    section = chemistry.section("1.4")
    assert (section.id, section.title, section.chapter_title) == ("m68674", "Measurements", "Essential Ideas")
    example = section.examples[0]
    assert (example.number, example.title) == ("1.1", "Calculation of Density")
    assert "edge length of 2.00 cm and a mass of 90.7 g" in example.problem
    assert "density = mass/volume = (90.7 g)/(8.00 cm^3) = 11.3 g/cm^3" in example.solution
    assert example.answer == "11.3 g/cm^3"
    assert example.check_problem.startswith("(a) To three decimal places")
    assert example.check_answer == "(a) 0.599 cm^3; (b) 8.91 g/cm^3"
    assert example.text in section.text
    # Cross-references without text read as the book prints them.
    assert "listed in Table 1.2" in section.text
    # Summaries and key equations are kept; end-of-chapter exercises are not.
    assert "Key Equations\ndensity = mass/volume" in section.text
    assert "Chemistry End of Chapter Exercises" not in section.text


def test_stated_answers_of_numeric_examples(chemistry):
    by_title = {ex.title: ex for ex in chemistry.all_examples}
    assert by_title["Calculation of Average Atomic Mass"].answer == "20.15 amu"
    assert by_title["Using a Unit Conversion Factor"].answer == "4.41 oz"
    assert by_title["Calculation of Percent Yield"].answer == "77.3%"
    assert by_title["Adding Exponentials"].answer == "3.05 × 10^-3"
    # An example with two solutions keeps both, each headed by its subtitle.
    hess = by_title["Using Hess’s Law"]
    assert (
        hess.solution.startswith("Using the Equation:")
        and "Supporting Why the General Equation" in hess.solution
    )
    numeric = [ex for ex in chemistry.all_examples if ex.answer and ex.answer[:1].isdigit()]
    assert len(numeric) > 150


def test_stated_answer_heuristics():
    assert stated_answer("x = 4.41 oz (three significant figures)") == "4.41 oz"
    assert stated_answer("K = 505.4 K ⟶ 5.1 × 10^2 K\n(Note: rounded.)") == "5.1 × 10^2 K"
    assert stated_answer("The average mass of a neon atom is 20.15 amu.") == "20.15 amu"
    assert stated_answer("It is a redox reaction. Oxygen is the oxidant.") == "Oxygen is the oxidant."
    assert stated_answer("  ") is None


# --------------------------------------------------------------------------- splitting
def test_split_respects_the_budget_and_keeps_examples_whole(chemistry):
    section = chemistry.section("1.4")
    parts = section.split(2000)
    assert len(parts) > 1 and all(p.size == len(p.text) <= 2000 and p.unit == "chars" for p in parts)
    assert [p.index for p in parts] == list(range(len(parts))) and {p.count for p in parts} == {len(parts)}
    assert "\n\n".join(p.text for p in parts) == section.text  # nothing lost, nothing repeated
    found = [ex for p in parts for ex in p.examples]
    assert found == list(section.examples)
    for part in parts:
        for ex in part.examples:
            assert ex.text in part.text
    assert parts[1].label == f"1.4 Measurements (part 2/{len(parts)})"
    assert section.split(10**6)[0].text == section.text


def test_split_cuts_a_block_longer_than_the_budget():
    long = " ".join(f"Sentence {i} says something." for i in range(100))
    section = Section("s", "1.1", "Long", 1, "Ch", (long, "Short paragraph."))
    parts = section.split(200)
    assert all(p.size <= 200 for p in parts) and len(parts) >= len(long) // 200
    assert (
        " ".join(p.text for p in parts).replace("\n\n", " ").split() == (long + " Short paragraph.").split()
    )
    by_words = section.split(50, tokenizer=lambda text: len(text.split()))
    assert all(p.unit == "tokens" and p.size <= 50 for p in by_words)
    with pytest.raises(ValueError, match="budget must be an integer"):
        section.split(3)


# --------------------------------------------------------------------------- Markdown books
BOOK = """Title page (not a section).

# Gases

Gases fill their containers.

## Pressure

Pressure is force per area.

```python
# a comment, not a heading
p = F / A
```

### Example: Converting pressure units
What is 760 mmHg in atm?

**Solution**
1 atm = 760 mmHg, so 760 mmHg = 1.00 atm.

**Answer:** 1.00 atm

Check Your Learning
What is 380 mmHg in atm?
Answer: 0.500 atm

### Barometers
Barometers measure pressure.

## The ideal gas law
PV = nRT.

### Example 2 Moles of gas
How many moles are in 22.4 L at STP?
Solution
n = PV/RT = 1.00 mol

# Solids
## Crystals
Solids keep their shape.
"""


def test_markdown_book(tmp_path):
    path = tmp_path / "tiny.md"
    path.write_text(BOOK)
    book = Reference.load(path, license="CC0-1.0")
    assert (book.title, book.kind, book.license) == ("tiny", "markdown", "CC0-1.0")
    assert [c.title for c in book.chapters] == ["Gases", "Solids"]
    assert [(s.number, s.title) for s in book.sections] == [
        ("1.0", "Introduction"),
        ("1.1", "Pressure"),
        ("1.2", "The ideal gas law"),
        ("2.1", "Crystals"),
    ]
    pressure = book.section("1.1")
    assert (
        "    " not in pressure.text
        and "```python\n# a comment, not a heading\np = F / A\n```" in pressure.text
    )
    assert "### Barometers\nBarometers measure pressure." in pressure.text
    first, second = book.examples
    assert first == WorkedExample(
        id="1.1-ex1",
        number="1.1",
        title="Converting pressure units",
        problem="What is 760 mmHg in atm?",
        solution="1 atm = 760 mmHg, so 760 mmHg = 1.00 atm.",
        answer="1.00 atm",
        check_problem="What is 380 mmHg in atm?",
        check_answer="0.500 atm",
        section_id="1.1",
    )
    assert (second.number, second.title, second.answer) == ("1.2", "Moles of gas", "1.00 mol")
    assert Reference.from_markdown(BOOK).title == "Markdown book"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "# A\n## Empty\n## B\ntext\n",
            r"Section 1\.1 'Empty' of chapter 'A' \(<markdown text>, line 2\) has no text",
        ),
        ("## Orphan\ntext\n# A\n", r"line 1: section 'Orphan' comes before any chapter"),
        ("no headings at all\n\njust text\n", "has no chapters"),
        ("# Only a title\n\n", r"chapter 1 'Only a title' has no text and no sections"),
    ],
)
def test_bad_markdown_books(text, message):
    with pytest.raises(ReferenceFormatError, match=message):
        Reference.from_markdown(text)


# --------------------------------------------------------------------------- bad OpenStax books
def _copy_book(tmp_path: Path, modules: list[str]) -> Path:
    """A two-section OpenStax book made of real Chemistry 2e modules."""
    book = tmp_path / "book"
    (book / "collections").mkdir(parents=True)
    for m in modules:
        shutil.copytree(CHEMISTRY / "modules" / m, book / "modules" / m)
    for path in [book / "modules", *(book / "modules").rglob("*")]:  # the shared data is read-only
        path.chmod(path.stat().st_mode | 0o200)
    listed = "".join(f'<col:module document="{m}"/>' for m in modules)
    (book / "collections" / "tiny.collection.xml").write_text(
        '<col:collection xmlns="http://cnx.rice.edu/collxml" xmlns:md="http://cnx.rice.edu/mdml" '
        'xmlns:col="http://cnx.rice.edu/collxml"><metadata><md:title>Tiny</md:title>'
        '<md:license url="http://creativecommons.org/licenses/by/4.0/">CC BY</md:license></metadata>'
        f"<col:content><col:subcollection><md:title>One</md:title><col:content>{listed}"
        "</col:content></col:subcollection></col:content></col:collection>"
    )
    return book


def test_small_openstax_book_and_its_errors(tmp_path):
    book_dir = _copy_book(tmp_path, ["m68663", "m68674"])
    book = Reference.load(book_dir / "collections" / "tiny.collection.xml")
    assert [(s.number, s.title) for s in book.sections] == [("1.0", "Introduction"), ("1.1", "Measurements")]
    assert book.attribution.startswith("OpenStax Tiny") and book.license == "CC BY 4.0"

    (book_dir / "modules" / "m68674" / "index.cnxml").write_text("<document><title>Broken")
    with pytest.raises(ReferenceFormatError, match=r"Module m68674 .*index\.cnxml\) is not well-formed XML"):
        Reference.load(book_dir)

    shutil.rmtree(book_dir / "modules" / "m68674")
    with pytest.raises(
        ReferenceFormatError, match=r"Module m68674 is missing: expected the file .*m68674/index\.cnxml"
    ):
        Reference.load(book_dir)

    (book_dir / "modules" / "m68674").mkdir()
    (book_dir / "modules" / "m68674" / "index.cnxml").write_text(
        f"<document {C}><title>Hollow</title><content><para id='p'/></content></document>"
    )
    with pytest.raises(ReferenceFormatError, match=r"Section 1\.1 'Hollow' of chapter 'One' .* has no text"):
        Reference.load(book_dir)


def test_not_a_book(tmp_path):
    with pytest.raises(ReferenceFormatError, match=r"no collections/\*\.collection\.xml"):
        Reference.load(tmp_path)
    with pytest.raises(ReferenceFormatError, match="does not exist"):
        Reference.load(tmp_path / "missing.md")
    (tmp_path / "book.pdf").write_bytes(b"%PDF")
    with pytest.raises(ReferenceFormatError, match="Cannot tell what kind of book"):
        Reference.load(tmp_path / "book.pdf")
    with pytest.raises(ReferenceFormatError, match="openstax-chemistry-2e/, which was not found"):
        Reference.load("chemistry-2e", data_dir=tmp_path)


def test_named_reference(chemistry):
    book = Reference.load("chemistry-2e", data_dir=CHEMISTRY.parent)
    assert book.title == chemistry.title and len(book.sections) == len(chemistry.sections)


# --------------------------------------------------------------------------- CLI
def test_cli_inspect(capsys):
    import json

    from hf_reft.cli import main

    assert main(["reftool", "inspect", str(CHEMISTRY), "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert (counts["chapters"], counts["sections"], counts["all_examples"], counts["parts"]) == (
        21,
        135,
        301,
        414,
    )
    assert counts["chapter_table"][0] == {
        "chapter": 1, "title": "Essential Ideas", "sections": 7, "examples": 12, "parts": 20,
    }  # fmt: skip
    assert main(["reftool", "inspect", str(CHEMISTRY), "--budget", "4000", "--sections"]) == 0
    out = capsys.readouterr().out
    assert "21 chapters, 135 sections, 289 worked examples (301 with front/back matter)" in out
    assert "   1.4  m68674     Measurements  (2 examples)" in out
    with pytest.raises(SystemExit) as exit_info:
        main(["reftool", "inspect", str(CHEMISTRY), "--budget", "3"])
    assert exit_info.value.code == 2 and "--budget must be at least 16" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["reftool", "inspect", "/no/such/book"])
    assert "does not exist" in capsys.readouterr().err
