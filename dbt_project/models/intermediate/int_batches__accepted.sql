-- The batches that count for as_of_date: loaded (newest revision; older ones are superseded by the
-- loader), passed or warned by their gate, delivered on or before as_of_date, and for delta sources
-- not older than the source's latest `full` re-statement (docs/rules.md, "Person and sources").
with batches as (
    select * from {{ ref('stg_audit__load_batches') }}
    where load_status = 'loaded'
      and gate_status in ('passed', 'warned')
      and extract_date <= {{ as_of_date() }}
),

last_full as (
    select source_name, max(extract_date) as full_date
    from batches
    where mode = 'full'
    group by source_name
),

final as (
    select
        b.batch_id,
        b.source_name,
        b.extract_date,
        b.revision,
        b.mode
    from batches as b
    left join last_full as f on f.source_name = b.source_name
    where b.source_name = 'enrolment' or b.extract_date >= coalesce(f.full_date, b.extract_date)
)

select * from final
