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
with laos as (
    select * from {{ ref('stg_reference__laos') }}
),

children as (
    select * from {{ ref('child_equity_profile') }}
    where as_of_date = {{ as_of_date() }}
),

counts as (
    select
        lao_code,
        count(*) as children,
        count(*) filter (where age between {{ var('school_age_min') }} and {{ var('school_age_max') }})
            as children_school_age,
        count(*) filter (where age between {{ var('school_age_min') }} and {{ var('school_age_max') }}
                           and education_status = 'ENROLLED') as enrolled,
        count(*) filter (where education_status = 'OUT_OF_SCHOOL') as out_of_school,
        count(*) filter (where education_status in ('OUT_OF_SCHOOL', 'NOT_SCHOOL_AGE')) as no_education_record,
        count(*) filter (where out_of_school_reason = 'DROPPED_OUT') as dropped_out,
        count(*) filter (where out_of_school_reason = 'NOT_CONTINUED') as not_continued,
        count(*) filter (where out_of_school_reason = 'LOST_IN_TRANSFER') as lost_in_transfer,
        count(*) filter (where out_of_school_reason = 'NEVER_ENROLLED') as never_enrolled,
        count(*) filter (where age between {{ var('preprimary_age_min') }} and {{ var('preprimary_age_max') }} and education_status = 'ENROLLED') as preprimary_enrolled,
        count(*) filter (where in_welfare) as screened,
        count(*) filter (where poverty_level = 'POOR') as poor,
        count(*) filter (where poverty_level = 'EXTREMELY_POOR') as extremely_poor,
        count(*) filter (where disability > 0) as with_disability,
        count(*) filter (where chronic_absence) as chronic_absence,
        count(*) filter (where is_priority) as priority_children
    from children
    group by lao_code
),

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
