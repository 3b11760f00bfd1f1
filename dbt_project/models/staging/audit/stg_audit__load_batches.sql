with source as (
    select * from {{ source('audit', 'load_batches') }}
)

select
    batch_id,
    source as source_name,
    extract_date,
    revision,
    mode,
    status as load_status,
    gate_status
from source
