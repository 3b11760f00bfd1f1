-- Each person's current registry state: their latest event up to as_of_date
-- (docs/rules.md, "Registry state").
with events as (
    select e.*, b.extract_date
    from {{ ref('stg_registry__events') }} as e
    inner join {{ ref('int_batches__accepted') }} as b
        on b.batch_id = e.batch_id and b.source_name = 'registry'
    where e.person_id is not null
      and e.event_date <= {{ as_of_date() }}
),

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
        event = 'DEATH' as is_dead
    from events
    order by person_id, event_date desc, extract_date desc, source_line desc
)

select * from final
