{%- set plan = batch_state_plan('welfare') -%}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='screening_id',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['screening_id'], 'unique': true}, {'columns': ['person_id']}],
        pre_hook=["{% if batch_state_plan('welfare', quiet=true).mode == 'rebuild' and is_incremental() %}delete from {{ this }}{% endif %}"],
        post_hook=["{{ state_change_indexes({'written_for': 'written_for', 'screened_on': 'screened_on'}) }}",
                   "{{ batch_state_record('welfare', batch_state_plan('welfare', quiet=true)) }}"],
    )
}}
-- The latest delivered row of every screening (an UPSERT or its DELETE), from the accepted welfare
-- batches (docs/rules.md, "Welfare"). It does not depend on as_of_date: the validity window and
-- the choice of each child's current screening are int_welfare__current_screening's.
--
-- Incremental on batches (macros/batch_state.sql): an ordinary night reads only the new delta batch;
-- a later delivery of a screening always wins, so its new row simply replaces the old one.
-- A `full` re-statement, a re-delivered or re-run past date rebuild it from every accepted batch.
with rows_delivered as (
    select s.*, b.extract_date
    from {{ ref('stg_welfare__screenings') }} as s
    inner join {{ ref('int_batches__accepted') }} as b
        on b.batch_id = s.batch_id and b.source_name = 'welfare'
    where {{ batch_state_filter(plan, 'welfare', 's.batch_id') }}
),

final as (
    select distinct on (screening_id)
        screening_id, person_id, household_id, screened_on, household_size, household_income_month,
        caregiver, has_welfare_card, housing, electricity, clean_water, farm_land, vehicle, action,
        extract_date, source_line,
        -- the night this row was (re)written: int_children__changed follows the persons it touches
        {{ as_of_date() }} as written_for
    from rows_delivered
    order by screening_id, extract_date desc, source_line desc
)

{% if plan.mode == 'apply' %}

-- a screening re-delivered under another person (an ID corrected): the person it leaves must be
-- recomputed too, and the row that named them is about to be replaced
select f.*, nullif(old.person_id, f.person_id) as replaced_person_id
from final as f
left join {{ this }} as old on old.screening_id = f.screening_id

{% else %}

select f.*, null::text as replaced_person_id
from final as f

{% endif %}
