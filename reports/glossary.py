"""What every report figure means, written once.

The pages show these definitions on the tables' headers and the headline cards (on hover and
on keyboard focus) and in a "What the figures mean" list; the API schema gives them as the
report serializers' field descriptions (`reports.serializers`); a test checks both read the
same text. The definitions restate SPEC §3 in a marketer's words: change a figure there, change
its words here.

The funnel counts (followers, leads, qualified, customers) mean something else in the funnel
table than in the ROI tables (customers: counted whole to the source, not credited by the
model), so the funnel has its own entries, under `FUNNEL`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    label: str
    definition: str


UNDEFINED = "—"

TERMS: dict[str, Term] = {
    "cost": Term(
        "Cost",
        "Every cost recorded for the group's campaigns (ad spend, staff time, content, tools, "
        "agency, other) dated in the period. Discounts are not in it.",
    ),
    "revenue": Term(
        "Revenue",
        "What the period's purchases paid (net of discounts), less what was refunded on them "
        "(whenever the refund came), credited to the group by the chosen attribution model on "
        "the purchase's day. The rows add up to the same total in every model.",
    ),
    "roi": Term(
        "ROI",
        "Return on investment: (revenue - cost) / cost. The API and CSV give it as a ratio "
        "(-0.3600); the pages as a percentage (-36.0%), and its change against the previous "
        "period in percentage points (pp). Not defined (—) where the cost is 0.",
    ),
    "roas": Term(
        "ROAS",
        "Return on ad spend: revenue / cost (2.50 means 2.50 of revenue for each 1.00 spent). "
        "Not defined (—) where the cost is 0.",
    ),
    "followers": Term(
        "Followers",
        "Contacts that entered the funnel in the period (at any stage), counted to the group "
        "they came from (their first touch).",
    ),
    "leads": Term(
        "Leads",
        "Contacts that became leads in the period, whenever they entered, counted to the group "
        "they came from (their first touch).",
    ),
    "qualified": Term(
        "Qualified",
        "Contacts that became qualified in the period, whenever they became leads, counted to "
        "the group they came from (their first touch).",
    ),
    "customers": Term(
        "Customers",
        "New customers of the period (contacts whose first purchase falls in it), credited by "
        "the attribution model's weights: a first purchase shared by two groups counts 0.5 in "
        "each. The funnel counts each new customer whole to the group it came from instead, "
        "so the two can differ.",
    ),
    "cost_per_lead": Term(
        "Cost per lead",
        "Cost / leads. Not defined (—) where there are no leads; 0.00 where leads came but no "
        "cost was recorded for the group (it says nothing was spent on record, not that the "
        "leads were free).",
    ),
    "cost_per_customer": Term(
        "CAC",
        "Customer acquisition cost: cost / customers (the credited customers, exact). Not "
        "defined (—) where no customer was credited; 0.00 where customers came but no cost was "
        "recorded for the group (email, direct, unattributed...).",
    ),
    "assisted_conversions": Term(
        "Assisted",
        "Purchases of the period that the group touched (within the lookback window) without "
        "closing them: another group had the last touch. A purchase counts once in each group "
        "that assisted it, so the rows do not add up: the totals row counts the distinct "
        "purchases that any group assisted. A channel whose campaign closed a purchase did not "
        "assist it, even when another of its campaigns touched it, so the campaign table's "
        "total can be higher than the channel table's.",
    ),
    "assisted_revenue": Term(
        "Assisted revenue",
        "The whole amount of the purchases the group assisted, less their refunds (not a "
        "share: it is not in the group's revenue). The totals row sums each assisted purchase "
        "once.",
    ),
    "revenue_low": Term(
        "Revenue, low (95%)",
        "Data-driven models only: the low end of the revenue's 95% interval. The model is fitted "
        "again on 200 resamplings of the period's journeys (a fixed seed: the same data give the "
        "same interval); 2.5% of them credit the group less than this.",
    ),
    "revenue_high": Term(
        "Revenue, high (95%)",
        "Data-driven models only: the high end of the revenue's 95% interval; 2.5% of the "
        "resamplings credit the group more than this.",
    ),
    "roi_low": Term(
        "ROI, low (95%)",
        "Data-driven models only: the ROI at the low end of the revenue's interval, "
        "(revenue low - cost) / cost. Not defined (—) without cost.",
    ),
    "roi_high": Term(
        "ROI, high (95%)",
        "Data-driven models only: the ROI at the high end of the revenue's interval. Not "
        "defined (—) without cost.",
    ),
    "impressions": Term(
        "Impressions",
        "Times the group's posts and ads were shown in the period, as the platforms report them.",
    ),
    "interactions": Term(
        "Interactions",
        "Reactions + comments + shares + clicks on the group's posts and ads in the period.",
    ),
    "engagement_rate": Term(
        "Engagement rate",
        "Interactions / impressions. Not defined (—) without impressions. Engagement is shown "
        "beside conversions, never instead of them.",
    ),
    "followers_gained": Term(
        "Followers gained",
        "New followers of the group's pages in the period, as the platforms report them "
        "(the platform's count, not contacts in the funnel).",
    ),
    "discounts": Term(
        "Discounts",
        "What the group's coupons gave away on the period's purchases. Shown beside cost, not "
        "added to it: revenue is already net of discounts.",
    ),
    "self_reported": Term(
        "Self-reported",
        "Contacts that entered the funnel in the period (at any stage) and say they heard "
        'about us through the channel ("how did you hear about us"), whatever source was '
        "tracked for them: the same people as Followers, counted by their own words instead of "
        "their first touch. Only answers that name a channel count, so the rows add up to the "
        "answers, not to the entrants; not shown for the unattributed row. Beside the tracked "
        "figures, never in ROI or any attribution.",
    ),
    "target_leads": Term("Leads target", "The campaign's target number of leads, if it has one."),
    "target_cost_per_lead": Term(
        "Cost per lead target", "The campaign's target cost per lead, if it has one."
    ),
    "unattributed": Term(
        "Unattributed",
        "Contacts, purchases and discounts whose source is unknown: a purchase with no touch "
        "at all (a walk-in without a coupon). Kept apart, never put in direct, so every row "
        "adds up to the totals.",
    ),
    "no_campaign": Term(
        "(no campaign)",
        "Touches and contacts of a channel that came without a campaign (an organic post, a "
        "link with no campaign tag), named after their channel: 'Facebook (no campaign)'.",
    ),
    "spread": Term(
        "Spread",
        "How much the models disagree on the row: its largest credited revenue minus its smallest.",
    ),
    "reference_model": Term(
        "Reference model",
        "The attribution model the chosen one is compared with (last touch unless you choose "
        "another): each figure is shown under both, with the change. The cost is the same in "
        "every model, so it is shown once.",
    ),
    "change": Term(
        "Change",
        "The figure under the chosen model minus the same figure under the reference model. "
        "Worked out from the exact values (customers' exact fractional credit), so it can "
        "differ by 0.01 from the difference of the two rounded figures shown.",
    ),
    "change_ratio": Term(
        "% change",
        "The change as a share of the reference model's figure: (chosen - reference) / "
        "reference. Not defined (—) where the reference model's figure is 0.",
    ),
    "roi_change": Term(
        "ROI change (pp)",
        "The chosen model's ROI minus the reference model's, in percentage points (a relative "
        "change of a ratio that can be negative says nothing). The cost being the same in both "
        "models, it is the revenue change / cost. Not defined (—) where the cost is 0.",
    ),
    "cac_change": Term(
        "CAC change",
        "The chosen model's CAC minus the reference model's (each from the exact credited "
        "customers). Not defined (—) where either model credits the group no customer.",
    ),
}

FUNNEL: dict[str, Term] = {
    "followers": Term(
        "Followers",
        "Contacts that entered the funnel in the period (at any stage), counted whole to the "
        "group they came from (their first touch).",
    ),
    "leads": Term(
        "Leads",
        "Contacts that became leads in the period, counted by the day each stage was reached, "
        "not by the day they entered: a September follower who became a lead in October is an "
        "October lead.",
    ),
    "qualified": Term(
        "Qualified",
        "Contacts that became qualified in the period, counted by that day: a month can show "
        "more qualified than leads when September's leads qualified in October.",
    ),
    "customers": Term(
        "Customers",
        "Contacts that became customers in the period, each counted whole to the group it came "
        "from (its first touch). The ROI tables' customers are credited by the attribution "
        "model instead, so a channel can show 0 customers there and 1 here.",
    ),
    "cohort_size": Term(
        "Entered (cohort)",
        "The cohort: contacts that entered the funnel in the period.",
    ),
    "reached_lead_share": Term(
        "Cohort reached lead",
        "Of the cohort, the share that has become a lead by now (the report's time).",
    ),
    "reached_customer_share": Term(
        "Cohort reached customer",
        "Of the cohort, the share that has become a customer by now (the report's time).",
    ),
    "median_days_to_lead": Term(
        "Median days to lead",
        "Of the cohort's contacts that became leads, the median days from entry to lead.",
    ),
    "median_days_to_customer": Term(
        "Median days to customer",
        "Of the cohort's contacts that became customers, the median days from entry to customer.",
    ),
}

# The conversion paths report (/reports/paths/): its figures count first purchases whole, by
# the channels that led to them, not credited by a model.
PATHS: dict[str, Term] = {
    "path": Term(
        "Path",
        "The channels of the touches that led to a contact's first purchase, in time order: "
        "its touches at or before the purchase within the 90-day lookback, the purchase's "
        "coupon, and its first touch ever, however old (the touches the attribution models "
        "share out). Touches in a row on one channel are one step with their count: "
        "'Facebook ×3 → Email'. A touch after the purchase is not in it.",
    ),
    "conversions": Term(
        "Conversions",
        "First purchases in the period (a contact's first purchase ever) that followed this "
        "path. A contact's later purchases are not conversions.",
    ),
    "revenue": Term(
        "Revenue",
        "What those first purchases paid (net of discounts and refunds). Later purchases of "
        "the same contacts are not in it, so it is less than the period's revenue on the "
        "dashboard.",
    ),
    "touches_per_conversion": Term(
        "Touches / conversion",
        "The path's touches (repeats included: 'Facebook ×3' is three) divided by its conversions.",
    ),
    "average_days_to_convert": Term(
        "Average days to convert",
        "The mean time from the path's first touch to the purchase, in days (hours count as "
        "fractions of a day). Not defined (—) for purchases with no touch.",
    ),
    "median_days_to_convert": Term(
        "Median days to convert",
        "The middle time from the path's first touch to the purchase: half the conversions "
        "took less. One old first touch moves the average a lot and the median little.",
    ),
    "no_touches": Term(
        "(no touches)",
        "First purchases with no touch at all (a walk-in without a coupon): the same purchases "
        "as the unattributed row of the other reports.",
    ),
    "other_paths": Term(
        "(other paths)",
        "Every path below the most common ones, in one line, so that the rows add up to the "
        "totals. Its medians are over its own conversions.",
    ),
}

PAYBACK: dict[str, Term] = {
    "cohort": Term(
        "Cohort",
        "The contacts that entered in a month (local time), grouped by their source: the "
        "channel and campaign of their first touch. Contacts with no source are unattributed "
        "and have no cost.",
    ),
    "entrants": Term("Entrants", "How many contacts entered in the month from this source."),
    "cost": Term(
        "Cost",
        "What the source cost in the cohort's month: a campaign's costs, or a channel's "
        "campaigns' costs, incurred that month.",
    ),
    "revenue": Term(
        "Revenue at 30 / 60 / 90 / 180 days",
        "What the cohort's purchases paid, net of their refunds, from each contact's entry day "
        "(day 0) to its day 30, 60, 90 or 180. Purchases after that day count at longer "
        "horizons only.",
    ),
    "ratio": Term(
        "Payback ratio",
        "Revenue at 180 days divided by the cost: 100% means the month's cost was earned back. "
        "Not defined (—) without a cost.",
    ),
    "payback_day": Term(
        "Payback day",
        "The first day since entry on which the cohort's cumulative revenue reached its cost. "
        "'Not yet' while the cohort is still inside its 180 days; — when it did not pay back "
        "within 180 days or had no cost.",
    ),
    "so_far": Term(
        "So far",
        "A horizon is open while its last entrants (those of the month's last day) have not "
        "yet lived that many days: its figure can still grow. A closed horizon's figure stays "
        "as it is unless late data for the cohort arrives.",
    ),
}

# Notes shown beside the tables.
FUNNEL_CAPTION = "Counted by the day each stage was reached"
FUNNEL_NOTE = (
    "Each count is the contacts that reached that stage in the period, whatever the day they "
    "entered, so a month can show more qualified than leads. Customers are counted whole to "
    "the channel a contact came from; the tables above credit them by the attribution model."
)
CHANNEL_NOTE = (
    "Customers and revenue are credited by the chosen attribution model; the funnel below "
    "counts each new customer whole to the channel it came from, so the two can differ."
)

ASSISTED_NOTE = (
    "Assisted totals count each assisted purchase once; a purchase two campaigns assisted is "
    "in both rows, and one a channel closed through another of its campaigns is assisted here "
    "but not in the channel table."
)


def definition(key: str, table: str = "roi") -> str:
    """The definition of a figure of the ROI tables, or of the funnel's (`table="funnel"`) or
    the conversion paths' (`table="paths"`) or the payback's (`table="payback"`)."""
    if table == "funnel" and key in FUNNEL:
        return FUNNEL[key].definition
    if table == "paths" and key in PATHS:
        return PATHS[key].definition
    if table == "payback" and key in PAYBACK:
        return PAYBACK[key].definition
    return TERMS[key].definition


def terms(keys: list[str], table: str = "roi") -> list[Term]:
    """The entries of `keys`, in that order, for a page's "What the figures mean" list."""
    source = {"funnel": FUNNEL, "paths": PATHS, "payback": PAYBACK}.get(table, {})
    return [source.get(k) or TERMS[k] for k in keys]
