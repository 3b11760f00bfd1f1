{{
    config(
        incremental_strategy='delete+insert',
        unique_key='as_of_date',
        indexes=[{'columns': ['as_of_date'], 'unique': true}],
    )
}}
-- One row per as_of_date for the whole country: sums of the LAO rows.
with rollup as (
    {{ summary_rollup([]) }}
)

select
    as_of_date, laos, laos_with_children,
    children, children_school_age, enrolled, out_of_school, out_of_school_rate,
    no_education_record, dropped_out, not_continued, lost_in_transfer, never_enrolled,
    preprimary_enrolled, screened, poor, extremely_poor, poverty_rate,
    with_disability, chronic_absence, priority_children
from rollup
