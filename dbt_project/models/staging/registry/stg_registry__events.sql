-- One row per event line of every loaded registry batch: renamed, cast, Buddhist-Era dates decoded.
with source as (
    select * from {{ source('raw', 'registry_events') }}
),

final as (
    select
        _batch_id as batch_id,
        _file as source_file,
        _line as source_line,
        nullif(trim(pid), '') as person_id,
        birth_date as birth_date_be_text,
        {{ be_date_ymd('birth_date') }} as birth_date,
        case sex when '1' then 'M' when '2' then 'F' end as sex,
        nationality,
        house_id,
        subdistrict_code,
        lao_code,
        event,
        {{ be_date_ymd('event_date') }} as event_date,
        nullif(mother_pid, '') as mother_pid,
        nullif(father_pid, '') as father_pid
    from source
)

select * from final
