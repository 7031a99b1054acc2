; A boot sector that is a whole guest: it writes SECTORS sectors of 0xA5 bytes to the second
; disk (BIOS drive 0x81, a virtio-blk disk) through BIOS extended writes (int 13h, AH=43h), 64
; sectors at a time, then powers the PC off through ACPI, so QEMU shuts down cleanly and writes
; out the image's metadata. A full thin volume makes QEMU pause the guest (werror=stop), and
; `cont` retries the failed request: the guest never notices. If a write fails for good, the
; guest makes QEMU exit at once through the isa-debug-exit port instead.
; Built with -DFOREVER it never powers off: pass after pass it writes the SECTORS sectors again,
; every byte of a pass the pass's number (1, 2, ... 255, 0, 1 ...), so a test can tell whether
; anything was written since it last looked.
; Build: nasm -f bin -DSECTORS=<n> [-DFOREVER] -o writer.bin writer.asm
bits 16
org 0x7c00

start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    sti
pass:
%ifdef FOREVER
    inc byte [pattern]
%endif
    mov ax, 0x1000              ; a 32 KiB buffer at 1000:0000, filled with the pattern
    mov es, ax
    xor di, di
    mov cx, 0x8000
    mov al, [pattern]
    rep stosb
    mov dword [lba], 0
next:
    mov si, packet
    mov ah, 0x43
    xor al, al
    mov dl, 0x81
    int 0x13
    jc failed
    add dword [lba], 64
    cmp dword [lba], SECTORS
    jb next
%ifdef FOREVER
    jmp pass
%endif
    mov dx, 0x604               ; PIIX4 PM1a control (SeaBIOS puts the PM base at 0x600)
    mov ax, 0x2000              ; SLP_EN, sleep type S5: power off
    out dx, ax
    jmp halt
failed:
    mov al, 1                   ; QEMU exits with status 3: a write failed for good
    out 0xf4, al
halt:
    cli
    hlt
    jmp halt

pattern:
%ifdef FOREVER
    db 0
%else
    db 0xa5
%endif
packet:
    db 0x10, 0                  ; size of this disk address packet
    dw 64                       ; sectors per write
    dw 0x0000, 0x1000           ; buffer offset, segment
lba:
    dd 0, 0                     ; first sector of the write

times 510 - ($ - $$) db 0
dw 0xaa55
