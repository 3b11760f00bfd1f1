{{
    config(
        incremental_strategy='delete+insert',
        unique_key='as_of_date',
        indexes=[{'columns': ['as_of_date', 'province_code'], 'unique': true}],
    )
}}
-- One row per province per as_of_date: sums of the LAO rows (so the levels reconcile), with names.
with rollup as (
    {{ summary_rollup(['province_code']) }}
),

provinces as (
    select distinct province_code, province_name from {{ ref('stg_reference__subdistricts') }}
)

select
    r.province_code,
    p.province_name::text as province_name,
    r.as_of_date, r.laos, r.laos_with_children,
    r.children, r.children_school_age, r.enrolled, r.out_of_school, r.out_of_school_rate,
    r.no_education_record, r.dropped_out, r.not_continued, r.lost_in_transfer, r.never_enrolled,
    r.preprimary_enrolled, r.screened, r.poor, r.extremely_poor, r.poverty_rate,
    r.with_disability, r.chronic_absence, r.priority_children
from rollup as r
left join provinces as p on p.province_code = r.province_code
