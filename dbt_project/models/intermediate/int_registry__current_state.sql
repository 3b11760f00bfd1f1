{%- set plan = batch_state_plan('registry') -%}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='person_id',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['person_id'], 'unique': true}],
        pre_hook=["{% if batch_state_plan('registry', quiet=true).mode == 'rebuild' and is_incremental() %}delete from {{ this }}{% endif %}"],
        post_hook=["{{ state_change_indexes({'written_for': 'written_for', 'birthday': birthday_number('birth_date')}) }}",
                   "{{ registry_state_record() }}"],
    )
}}
-- Each person's current registry state: their latest event up to as_of_date
-- (docs/rules.md, "Registry state").
--
-- Incremental on batches (macros/batch_state.sql): an ordinary night reads only the new delta
-- batch and folds it into the persons it touches; the state of everyone else is not read again.
-- A `full` re-statement, a re-delivered or re-run past date rebuild it from every accepted batch.
with events as (
    select
        e.person_id, e.event, e.event_date, e.birth_date, e.sex, e.nationality, e.house_id,
        e.subdistrict_code, e.lao_code, e.source_line, b.extract_date
    from {{ ref('stg_registry__events') }} as e
    inner join {{ ref('int_batches__accepted') }} as b
        on b.batch_id = e.batch_id and b.source_name = 'registry'
    where {{ batch_state_filter(plan, 'registry', 'e.batch_id') }}
      and e.person_id is not null
      and e.event_date <= {{ as_of_date() }}
),

{% if plan.mode == 'apply' %}

-- the touched persons' state so far competes with their new events, by the same ordering
candidates as (
    select
        person_id, event, event_date, birth_date, sex, nationality, house_id,
        subdistrict_code, lao_code, source_line, extract_date
    from events
    union all
    select
        s.person_id, s.latest_event, s.latest_event_date, s.birth_date, s.sex, s.nationality, s.house_id,
        s.subdistrict_code, s.lao_code, s.source_line, s.extract_date
    from {{ this }} as s
    where s.person_id in (select person_id from events)
),

{% else %}

candidates as (
    select * from events
),

{% endif %}

final as (
    select distinct on (person_id)
        person_id,
        event as latest_event,
        event_date as latest_event_date,
        birth_date,
        sex,
        nationality,
        house_id,
        subdistrict_code,
        lao_code,
        event not in ('MOVE_OUT', 'DEATH') as has_current_address,
        event = 'DEATH' as is_dead,
        extract_date,
        source_line,
        -- the night this row was (re)written: int_children__changed follows the persons it touches
        {{ as_of_date() }} as written_for
    from candidates
    order by person_id, event_date desc, extract_date desc, source_line desc
)

select * from final
