{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='as_of_date',
        indexes=[
            {'columns': ['as_of_date', 'lao_code']},
            {'columns': ['as_of_date', 'province_code']},
        ],
    )
}}
-- One row per child per as_of_date, pseudonymous (MARTS.md). A run for D replaces exactly D's rows.
with children as (
    select * from {{ ref('int_children__classified') }}
),

{{ hmac_pads_cte() }},

final as (
    select
        {{ child_key('c.person_id') }}::text as child_key,
        {{ as_of_date() }} as as_of_date,
        c.id_type::text as id_type,
        c.sex::text as sex,
        c.birth_year::int as birth_year,
        c.age::int as age,
        c.province_code::text as province_code,
        c.district_code::text as district_code,
        c.subdistrict_code::text as subdistrict_code,
        c.lao_code::text as lao_code,
        c.in_registry::boolean as in_registry,
        c.in_enrolment::boolean as in_enrolment,
        c.in_welfare::boolean as in_welfare,
        c.education_status::text as education_status,
        c.out_of_school_reason::text as out_of_school_reason,
        c.grade::text as grade,
        c.school_code::text as school_code,
        c.affiliation::text as affiliation,
        c.multiple_enrolment::boolean as multiple_enrolment,
        c.disability::int as disability,
        c.days_absent::int as days_absent,
        c.chronic_absence::boolean as chronic_absence,
        c.poverty_level::text as poverty_level,
        c.income_per_capita_month::numeric(12, 2) as income_per_capita_month,
        c.has_welfare_card::boolean as has_welfare_card,
        c.is_priority::boolean as is_priority
    from children as c
    cross join hmac_pads
)

select * from final
