{{ config(materialized='ephemeral') }}
-- depends_on: {{ ref('int_batches__accepted') }}
-- depends_on: {{ ref('stg_reference__subdistricts') }}
-- depends_on: {{ ref('int_children__changed') }}
-- Each person's current screening as of as_of_date (docs/rules.md, "Welfare"), of the persons this
-- night recomputes (int_children__changed), from the latest row of every screening
-- (int_welfare__screenings_latest): never from the deliveries themselves.
-- The latest counting screening of each: the night's persons' rows read by person (macros/night_persons.sql).
with counting as (
    select * from {{ night_persons_rows(
        ref('int_welfare__screenings_latest'),
        "r.action = 'UPSERT'"
        ~ " and r.screened_on <= " ~ as_of_date()
        ~ " and " ~ as_of_date() ~ " - r.screened_on <= " ~ var('screening_valid_days')
        ~ " and r.household_size >= 1",
        latest_by='r.screened_on desc, r.screening_id desc') }} as r
),

final as (
    select
        person_id,
        screening_id,
        screened_on,
        household_size,
        household_income_month,
        round(household_income_month / household_size, 2) as income_per_capita_month,
        household_income_month <= {{ var('poverty_line_thb') }} * household_size as poor_by_income,
        (case when electricity then 0 else 1 end)
        + (case when clean_water then 0 else 1 end)
        + (case when housing = 'INFORMAL' then 1 else 0 end)
        + (case when not farm_land and vehicle = 'NONE' then 1 else 0 end)
        + (case when caregiver in ('GRANDPARENTS', 'RELATIVES', 'OTHER', 'NONE') then 1 else 0 end)
            as deprivations,
        has_welfare_card
    from counting
)

select * from final
