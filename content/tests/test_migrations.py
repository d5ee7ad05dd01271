"""Bodies written as plain text before rich text read as paragraphs after it, cleaned like any other."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("content", "0004_drop_case_study_read_model"), ("impact", "0002_impactmetric_aggregation")]


@pytest.mark.django_db(transaction=True)
def test_plain_text_bodies_become_paragraphs_and_markup_is_cleaned():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    industry = old.get_model("content", "Industry").objects.create(name="Retail", slug="retail")
    case_study = old.get_model("content", "CaseStudy").objects.create(
        title="T",
        slug="t",
        client="C",
        industry=industry,
        challenge="Shelves were empty & nobody knew.\n\nA second paragraph\nwith a break.",
        solution="<p>Already <b>HTML</b><script>alert(1)</script></p>",
    )
    place = old.get_model("impact", "Location").objects.create(name="R", region="K", country="IN")
    story = old.get_model("impact", "ImpactStory").objects.create(
        title="S", slug="s", story="Fifty weavers <found> work.", location=place
    )

    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(latest)
    new = executor.loader.project_state(latest).apps

    migrated = new.get_model("content", "CaseStudy").objects.get(pk=case_study.pk)
    assert migrated.challenge == (
        "<p>Shelves were empty &amp; nobody knew.</p><p>A second paragraph<br>with a break.</p>"
    )
    # Typed into a plain text box and shown as text before: it stays text, visible, and runs nothing.
    assert (
        migrated.solution
        == "<p>&lt;p&gt;Already &lt;b&gt;HTML&lt;/b&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;/p&gt;</p>"
    )
    assert new.get_model("impact", "ImpactStory").objects.get(pk=story.pk).story == (
        "<p>Fifty weavers &lt;found&gt; work.</p>"
    )
