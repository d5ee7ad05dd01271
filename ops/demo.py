"""The core services every installation has, and the demo content of `seed_demo`."""

from datetime import date, timedelta
from decimal import Decimal

from impact.models import ImpactMetric

CORE_SERVICES = [
    {
        "slug": "data-collection",
        "name": "Data Collection",
        "icon": "database",
        "description": "Image, video, audio, text and sensor data gathered to specification, with consent "
        "and provenance recorded for every item.",
        "features": [
            {"title": "Field collection", "description": "Teams in rural India capture data on site."},
            {"title": "Consent tracking", "description": "Every contributor's consent is on record."},
            {"title": "Diverse sources", "description": "Languages, regions and devices chosen to fit."},
        ],
    },
    {
        "slug": "data-preparation",
        "name": "Data Preparation",
        "icon": "filter",
        "description": "Annotation, labelling, cleaning and validation of training data, measured against "
        "agreed quality targets.",
        "features": [
            {"title": "Image and video annotation", "description": "Boxes, polygons, keypoints, tracking."},
            {"title": "Text and audio labelling", "description": "NER, sentiment, transcription."},
            {"title": "Quality assurance", "description": "Multi-pass review with measured accuracy."},
        ],
    },
    {
        "slug": "ai-model-development",
        "name": "AI Model Development",
        "icon": "brain",
        "description": "Models trained, evaluated and tuned on the data we prepare, from baseline to "
        "production hand-over.",
        "features": [
            {"title": "Model training", "description": "Computer vision and NLP models."},
            {"title": "Evaluation", "description": "Bias, robustness and accuracy reports."},
        ],
    },
    {
        "slug": "human-in-the-loop",
        "name": "Human-in-the-Loop",
        "icon": "users",
        "description": "People who review, correct and teach models in production, so that they stay "
        "right as the world changes.",
        "features": [
            {"title": "Model validation", "description": "Humans check low-confidence predictions."},
            {"title": "Continuous feedback", "description": "Corrections flow back into training."},
        ],
    },
]

INDUSTRIES = ["Technology", "Healthcare", "Retail", "Finance", "Manufacturing"]

LOCATIONS = [
    {"name": "Ramanagara", "region": "Karnataka", "country": "IN"},
    {"name": "Yemmiganur", "region": "Andhra Pradesh", "country": "IN"},
]

USERS = [
    {"email": "ananya.rao@example.com", "name": "Ananya Rao", "company": "Vision Labs", "country": "IN"},
    {"email": "david.miller@example.com", "name": "David Miller", "company": "RetailAI", "country": "US"},
    {"email": "sofia.garcia@example.com", "name": "Sofia Garcia", "company": "MediScan", "country": "ES"},
    {"email": "kenji.sato@example.com", "name": "Kenji Sato", "company": "FinSight", "country": "JP"},
    {"email": "emma.weber@example.com", "name": "Emma Weber", "company": "Autowerk", "country": "DE"},
]

CASE_STUDIES = [
    {
        "slug": "retail-product-image-tagging",
        "title": "Tagging two million product images for a retail search engine",
        "client": "A global e-commerce marketplace",
        "industry": "Retail",
        "services": ["data-preparation", "human-in-the-loop"],
        "challenge": "Search results were poor because product photos carried inconsistent attributes.",
        "solution": "A team of 120 annotators tagged colour, pattern and category with two-pass review.",
        "results": [
            ("Images tagged", "2.1M"),
            ("Attribute accuracy", "98.7%"),
            ("Search conversion", "+14%"),
        ],
    },
    {
        "slug": "medical-imaging-annotation",
        "title": "Annotating chest X-rays for a diagnostic model",
        "client": "A healthcare AI start-up",
        "industry": "Healthcare",
        "services": ["data-preparation", "ai-model-development"],
        "challenge": "The model needed pixel-level labels reviewed under clinical guidelines.",
        "solution": "Annotators trained with radiologists segmented findings; every image was double-read.",
        "results": [("Studies annotated", "180,000"), ("Inter-annotator agreement", "0.91 kappa")],
    },
    {
        "slug": "voice-data-collection-indic-languages",
        "title": "Collecting voice data in nine Indian languages",
        "client": "A voice-assistant maker",
        "industry": "Technology",
        "services": ["data-collection"],
        "challenge": "Speech models failed on rural accents that public data sets did not cover.",
        "solution": "Consent-tracked recording sessions across villages, transcribed and validated.",
        "results": [("Hours recorded", "12,000"), ("Speakers", "9,400"), ("Word error rate", "-31%")],
    },
    {
        "slug": "invoice-extraction-finance",
        "title": "Human-in-the-loop invoice extraction",
        "client": "A payments company",
        "industry": "Finance",
        "services": ["human-in-the-loop", "ai-model-development"],
        "challenge": "Extraction confidence was too low for automatic posting on a third of invoices.",
        "solution": "Reviewers corrected low-confidence fields within minutes and fed corrections back.",
        "results": [("Straight-through rate", "from 64% to 93%"), ("Review turnaround", "< 10 min")],
    },
    {
        "slug": "defect-detection-manufacturing",
        "title": "Defect detection on an automotive assembly line",
        "client": "A tier-one automotive supplier",
        "industry": "Manufacturing",
        "services": ["data-collection", "data-preparation", "ai-model-development"],
        "challenge": "Rare defects meant too few examples to train a reliable detector.",
        "solution": "Targeted image capture, bounding-box annotation and a model tuned for recall.",
        "results": [("Defect recall", "97%"), ("False rejects", "-40%")],
    },
]

_FY = [(date(2023, 4, 1), date(2024, 3, 31)), (date(2024, 4, 1), date(2025, 3, 31))]
# Counts add up across stories and years; a share or a multiplier is averaged, never added up.
SUM, AVERAGE = ImpactMetric.Aggregation.SUM, ImpactMetric.Aggregation.AVERAGE

IMPACT_STORIES = [
    {
        "slug": "women-in-tech-ramanagara",
        "title": "Women building AI careers in Ramanagara",
        "location": "Ramanagara",
        "beneficiaries": 420,
        "story": "Our Ramanagara centre trains women from surrounding villages as data specialists. "
        "Most are the first in their family to hold a salaried job.",
        "metrics": [("Jobs created", "420", "people", SUM), ("Women employed", "61", "%", AVERAGE)],
    },
    {
        "slug": "digital-skills-yemmiganur",
        "title": "Digital skills for young graduates in Yemmiganur",
        "location": "Yemmiganur",
        "beneficiaries": 310,
        "story": "Graduates who would have migrated to cities now build careers at home, in work that "
        "pays above the regional average.",
        "metrics": [("Jobs created", "310", "people", SUM), ("Income uplift", "2.4", "x", AVERAGE)],
    },
    {
        "slug": "community-investment",
        "title": "Investing in the communities around our centres",
        "location": "Ramanagara",
        "beneficiaries": 1500,
        "story": "Scholarships, health camps and clean-water projects funded from our revenue.",
        "metrics": [("Scholarships", "85", "students", SUM), ("Health camp visits", "1500", "people", SUM)],
    },
]

SUBMISSIONS = [
    {
        "form_type": "contact",
        "email": "ananya.rao@example.com",
        "data": {"name": "Ananya Rao", "email": "ananya.rao@example.com", "message": "Please call me."},
        "services": [],
    },
    {
        "form_type": "demo_request",
        "email": "david.miller@example.com",
        "data": {
            "name": "David Miller",
            "email": "david.miller@example.com",
            "company": "RetailAI",
            "preferred_date": (date.today() + timedelta(days=14)).isoformat(),
            "message": "We would like to see your annotation workflow.",
        },
        "services": ["data-preparation"],
    },
    {
        "form_type": "quote_request",
        "email": "kenji.sato@example.com",
        "data": {
            "name": "Kenji Sato",
            "email": "kenji.sato@example.com",
            "company": "FinSight",
            "budget_range": "25k-100k",
            "timeline": "1-3 months",
            "data_volume": "500,000 documents",
            "message": "Invoice extraction with human review.",
        },
        "services": ["human-in-the-loop", "ai-model-development"],
    },
]


def metric_rows(metrics):
    """Each story's metrics over two real financial years (April to March)."""
    for name, value, unit, aggregation in metrics:
        for index, (start, end) in enumerate(_FY):
            # The earlier year shows a smaller figure, so period totals differ.
            factor = Decimal("0.8") if index == 0 else Decimal("1")
            yield name, (Decimal(value) * factor).quantize(Decimal("0.01")), unit, aggregation, start, end
