-- What it checks: child, LAO, province and national levels of the run's as_of_date agree.
-- When it matters: every night; a failure means a mart lost or double-counted children.
-- How to resolve: compare the levels' counts for the date; look for children without an LAO in the
-- reference (lao_code not in reference.laos), which the LAO level cannot count.
with child_level as (
    select count(*) as children, count(*) filter (where is_priority) as priority
    from {{ ref('child_equity_profile') }} where as_of_date = {{ as_of_date() }}
),
lao_level as (
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
from child_level c, lao_level l, province_level p, national_level n
where c.children <> l.children or l.children <> p.children or p.children <> n.children
   or c.priority <> l.priority or l.priority <> p.priority or p.priority <> n.priority
