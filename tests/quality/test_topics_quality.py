"""Quality gate: macro-F1 of the top IPTC topic on the MasakhaNews dev set (English, French), floors pinned.

The lexicons were written from general news vocabulary and the IPTC labels, not fitted to these articles; the
figures printed here are the honest measure. Raise a floor when an improvement lands; never lower one silently.
"""

from __future__ import annotations

import pytest

from processors.classify.evaluation import MASAKHANEWS_LANGUAGES, load_masakhanews, measure, shared_folder

pytestmark = pytest.mark.quality

# Measured 0.821 and 0.746 when pinned (French 0.726 before the second pass: more stem collisions fixed, economy
# terms, political actors in the subject outranking conflict). French was 0.762 before stemming collisions ("loyer"
# counted as "loi", "également" as "égalité") and triple counting of one word under a topic and its children were
# fixed: that figure rested on wrong evidence, so its floor (0.74) was lowered with the fix, not silently.
# See docs/topics.md.
FLOORS = {"eng": 0.81, "fra": 0.73}


@pytest.mark.parametrize("folder", sorted(MASAKHANEWS_LANGUAGES))
def test_macro_f1_floor(folder):
    if not (shared_folder() / "datasets" / "masakhanews-dev" / folder).is_dir():
        pytest.skip("shared MasakhaNews dev set not found (set NEWSWIRE_SHARED)")
    result = measure(load_masakhanews(folder), MASAKHANEWS_LANGUAGES[folder])
    per_label = ", ".join(f"{label} {f1:.3f}" for label, f1 in sorted(result.per_label.items()))
    print(f"\nMasakhaNews {folder}: macro-F1 {result.macro_f1:.3f} over {result.articles} articles ({per_label})")
    assert result.macro_f1 >= FLOORS[folder]
