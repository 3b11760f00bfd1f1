{{
    config(
        incremental_strategy='delete+insert',
        unique_key='as_of_date',
        indexes=[{'columns': ['lao_code', 'as_of_date'], 'unique': true}],
    )
}}
-- Night-over-night change per LAO: the trend BI plots, and the flag that explains a jump
-- (a jump beyond oos_jump_tolerance is flagged, never silently published).
with today as (
    select * from {{ ref('municipality_equity_summary') }}
    where as_of_date = {{ as_of_date() }}
),

previous_date as (
    select max(as_of_date) as as_of_date
    from {{ ref('municipality_equity_summary') }}
    where as_of_date < {{ as_of_date() }}
),

previous as (
    select s.*
    from {{ ref('municipality_equity_summary') }} as s
    inner join previous_date as d on d.as_of_date = s.as_of_date
)

select
    t.lao_code,
    t.province_code,
    t.as_of_date,
    p.as_of_date as previous_as_of_date,
    t.children,
    t.out_of_school,
    p.out_of_school as previous_out_of_school,
    (t.out_of_school - p.out_of_school)::int as out_of_school_change,
    t.priority_children,
    p.priority_children as previous_priority_children,
    (t.priority_children - p.priority_children)::int as priority_children_change,
    coalesce(
        abs(t.out_of_school - p.out_of_school) >= {{ var('oos_jump_min_children') }}
        and abs(t.out_of_school - p.out_of_school)
            > {{ var('oos_jump_tolerance') }} * greatest(p.out_of_school, 1),
        false
    ) as out_of_school_jump_flag
from today as t
left join previous as p on p.lao_code = t.lao_code
