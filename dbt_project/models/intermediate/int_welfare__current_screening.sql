{{ config(materialized='ephemeral') }}
-- Each person's current screening as of as_of_date (docs/rules.md, "Welfare"), of the persons this
-- night recomputes (int_children__changed), from the latest row of every screening
-- (int_welfare__screenings_latest): never from the deliveries themselves.
with latest_per_screening as (
    select * from {{ ref('int_welfare__screenings_latest') }}
    where person_id in (select person_id from {{ ref('int_children__changed') }})
),

counting as (
    select *
    from latest_per_screening
    where action = 'UPSERT'
      and person_id is not null
      and screened_on <= {{ as_of_date() }}
      and {{ as_of_date() }} - screened_on <= {{ var('screening_valid_days') }}
      and household_size >= 1
),

final as (
    select distinct on (person_id)
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
    order by person_id, screened_on desc, screening_id desc
)

select * from final
