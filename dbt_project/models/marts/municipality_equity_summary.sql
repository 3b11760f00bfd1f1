{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='as_of_date',
        indexes=[
            {'columns': ['as_of_date', 'lao_code'], 'unique': true},
            {'columns': ['as_of_date', 'province_code']},
        ],
    )
}}
-- One row per LAO per as_of_date; every LAO of the reference has a row, zeros where no children.
--
-- On an ordinary night (children_plan: `changes`, the previous night P's rows here) the counts are P's
-- plus the night's change: a child's row on D differs from its row on P only through a version that
-- begins on D or one that was valid on P and ends on D (a version holds every value of the child's
-- row, age included, for all the nights it spans). So D = P + (versions from D) - (versions of P that
-- end on D), and the night reads the few thousand versions it wrote or closed instead of every child
-- on D. A change of policy or of the reference makes the plan `all`: counted from every child.
{%- set previous = previous_night_rows() %}
-- depends_on: {{ ref('int_batches__accepted') }}
-- depends_on: {{ ref('stg_reference__subdistricts') }}
-- depends_on: {{ ref('int_children__versioned') }}
-- counted: {{ 'the rows of ' ~ previous ~ ' and the versions that begin or end on the night' if previous else 'every child' }}
{%- set measures = [
    ('children', 'true'),
    ('children_school_age', "age between " ~ var('school_age_min') ~ " and " ~ var('school_age_max')),
    ('enrolled', "age between " ~ var('school_age_min') ~ " and " ~ var('school_age_max') ~ " and education_status = 'ENROLLED'"),
    ('out_of_school', "education_status = 'OUT_OF_SCHOOL'"),
    ('no_education_record', "education_status in ('OUT_OF_SCHOOL', 'NOT_SCHOOL_AGE')"),
    ('dropped_out', "out_of_school_reason = 'DROPPED_OUT'"),
    ('not_continued', "out_of_school_reason = 'NOT_CONTINUED'"),
    ('lost_in_transfer', "out_of_school_reason = 'LOST_IN_TRANSFER'"),
    ('never_enrolled', "out_of_school_reason = 'NEVER_ENROLLED'"),
    ('preprimary_enrolled', "age between " ~ var('preprimary_age_min') ~ " and " ~ var('preprimary_age_max') ~ " and education_status = 'ENROLLED'"),
    ('screened', 'in_welfare'),
    ('poor', "poverty_level = 'POOR'"),
    ('extremely_poor', "poverty_level = 'EXTREMELY_POOR'"),
    ('with_disability', 'disability > 0'),
    ('chronic_absence', 'chronic_absence'),
    ('priority_children', 'is_priority'),
] %}
with laos as (
    select * from {{ ref('stg_reference__laos') }}
),

{%- if previous %}

-- the night's change, one row per version: +1 from D, -1 for a version of P that ends on D
changed as (
    select v.*, 1 as sign
    from {{ ref('int_children__versioned') }} as v
    where v.valid_from = {{ as_of_date() }} and v.present
    union all
    select v.*, -1 as sign
    from {{ ref('int_children__versioned') }} as v
    where v.valid_to = {{ as_of_date() }} and v.valid_from <= {{ previous }} and v.present
),

counts as (
    select lao_code,
        {%- for name, condition in measures %}
        sum({{ name }}) as {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from (
        select lao_code, {% for name, _ in measures %}{{ name }}{{ ', ' if not loop.last }}{% endfor %}
        from {{ this }}
        where as_of_date = {{ previous }}
        union all
        select lao_code,
            {%- for name, condition in measures %}
            coalesce(sum(sign) filter (where {{ condition }}), 0){{ ',' if not loop.last }}
            {%- endfor %}
        from changed
        group by lao_code
    ) as parts
    group by lao_code
),

{%- else %}

children as (
    select * from {{ ref('child_equity_profile') }}
    where as_of_date = {{ as_of_date() }}
),

counts as (
    select
        lao_code,
        {%- for name, condition in measures %}
        count(*) filter (where {{ condition }}) as {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from children
    group by lao_code
),

{%- endif %}

final as (
    select
        l.lao_code::text as lao_code,
        l.lao_name::text as lao_name,
        l.lao_type::text as lao_type,
        l.province_code::text as province_code,
        l.district_code::text as district_code,
        {{ as_of_date() }} as as_of_date,
        coalesce(c.children, 0)::int as children,
        coalesce(c.children_school_age, 0)::int as children_school_age,
        coalesce(c.enrolled, 0)::int as enrolled,
        coalesce(c.out_of_school, 0)::int as out_of_school,
        (c.out_of_school::numeric / nullif(c.children_school_age, 0))::numeric as out_of_school_rate,
        coalesce(c.no_education_record, 0)::int as no_education_record,
        coalesce(c.dropped_out, 0)::int as dropped_out,
        coalesce(c.not_continued, 0)::int as not_continued,
        coalesce(c.lost_in_transfer, 0)::int as lost_in_transfer,
        coalesce(c.never_enrolled, 0)::int as never_enrolled,
        coalesce(c.preprimary_enrolled, 0)::int as preprimary_enrolled,
        coalesce(c.screened, 0)::int as screened,
        coalesce(c.poor, 0)::int as poor,
        coalesce(c.extremely_poor, 0)::int as extremely_poor,
        ((c.poor + c.extremely_poor)::numeric / nullif(c.screened, 0))::numeric as poverty_rate,
        coalesce(c.with_disability, 0)::int as with_disability,
        coalesce(c.chronic_absence, 0)::int as chronic_absence,
        coalesce(c.priority_children, 0)::int as priority_children
    from laos as l
    left join counts as c on c.lao_code = l.lao_code
)

select * from final
