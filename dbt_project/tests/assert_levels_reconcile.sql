-- What it checks: the LAO, province and national levels of the run's as_of_date agree.
-- When it matters: every night; a failure means a roll-up lost or double-counted children.
-- How to resolve: compare the levels' counts for the date.
-- The child level against the LAO level is checked per LAO by the mart gate before publish
-- (expectations/marts/municipality_equity_summary.yml, lao_counts_reconcile_with_child_level): that
-- count reads every child of the night (3.5 s nationally), so it is not done twice.
with lao_level as (
    select sum(children) as children, sum(priority_children) as priority
    from {{ ref('municipality_equity_summary') }} where as_of_date = {{ as_of_date() }}
),
province_level as (
    select sum(children) as children, sum(priority_children) as priority
    from {{ ref('province_equity_summary') }} where as_of_date = {{ as_of_date() }}
),
national_level as (
    select children, priority_children as priority
    from {{ ref('national_equity_summary') }} where as_of_date = {{ as_of_date() }}
)
select *
from lao_level l, province_level p, national_level n
where l.children <> p.children or p.children <> n.children
   or l.priority <> p.priority or p.priority <> n.priority
